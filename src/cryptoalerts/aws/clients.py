"""aiobotocore clients, created lazily and owned by the resource that needs them.

aiobotocore is imported here, on first use, never at handler import time: it
costs cold-start milliseconds a webhook that rejects a bad signature never needs.
Every resource accepts an already-open client (tests, or a caller sharing one),
and otherwise opens its own on ``__aenter__`` and closes it on ``__aexit__``.
Endpoints follow botocore's own settings (``AWS_ENDPOINT_URL``,
``AWS_ENDPOINT_URL_<SERVICE>``), so the production code path is exactly what the
loopback tests exercise.
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Any, ClassVar, Self

from cryptoalerts.errors import CryptoAlertsError

__all__ = ["ClientResource", "create_client"]


def create_client(service: str, *, region_name: str | None = None, endpoint_url: str | None = None) -> Any:
    """An unopened aiobotocore client context manager with Lambda-friendly settings.

    Short connect timeouts and botocore's standard retries: pooled connections
    can be reset when a frozen container thaws, and a retry is the cure.
    """
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    config = AioConfig(
        connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 3}, max_pool_connections=32
    )
    session: Any = get_session()  # Any: the stubs type create_client per literal service name
    return session.create_client(service, region_name=region_name, endpoint_url=endpoint_url, config=config)


class ClientResource:
    """Base of the resources that talk to one AWS service through one client."""

    service: ClassVar[str]

    def __init__(self, client: Any = None, *, region_name: str | None = None, endpoint_url: str | None = None) -> None:
        self._client = client
        self._region_name = region_name
        self._endpoint_url = endpoint_url
        self._stack: contextlib.AsyncExitStack | None = None

    async def __aenter__(self) -> Self:
        if self._client is None:
            self._stack = contextlib.AsyncExitStack()
            self._client = await self._stack.enter_async_context(
                create_client(self.service, region_name=self._region_name, endpoint_url=self._endpoint_url)
            )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            self._client = None
            await stack.aclose()

    @property
    def client(self) -> Any:
        if self._client is None:
            raise CryptoAlertsError(f"{type(self).__name__} is not open; use it as 'async with'")
        return self._client
