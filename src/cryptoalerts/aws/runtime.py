"""One event loop per Lambda container, and the long-lived resources bound to it.

Lambda handlers are synchronous; the library is async. aiobotocore clients (and
the stores built on them) are bound to the loop that created them, so calling
``asyncio.run`` per invocation while reusing a warm client fails with "attached to
a different loop" (aio-libs/aiobotocore#807). The pattern here, like Powertools'
batch utilities, is one loop created with the function's app and reused by every
invocation, with clients created lazily *on* that loop and kept in an
:class:`~contextlib.AsyncExitStack` until the container goes away.

A :class:`Container` is not thread-safe, and needs not be: Lambda runs one
invocation at a time per execution environment. The local runtime gives each
function its own container and its own single worker thread, which is the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

from cryptoalerts.errors import ValidationError

__all__ = ["Container", "env_float", "env_int"]

T = TypeVar("T")


class Container:
    """An event loop plus the async resources opened on it, both kept warm."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stack: contextlib.AsyncExitStack | None = None

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The container's loop, created on first use."""
        if self._loop is None or self._loop.is_closed():
            self._loop = asyncio.new_event_loop()
        return self._loop

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` to completion on the container's loop (one invocation)."""
        return self.loop.run_until_complete(coro)

    async def enter(self, resource: contextlib.AbstractAsyncContextManager[T]) -> T:
        """Enter ``resource`` on the running (container) loop; it stays open until :meth:`close`."""
        if self._stack is None:
            self._stack = contextlib.AsyncExitStack()
        return await self._stack.enter_async_context(resource)

    def close(self) -> None:
        """Close every resource entered, then the loop. Idempotent."""
        if self._loop is None or self._loop.is_closed():
            return
        stack, self._stack = self._stack, None
        try:
            if stack is not None:
                self._loop.run_until_complete(stack.aclose())
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        finally:
            self._loop.close()


def env_int(name: str, default: int, *, environ: dict[str, str] | None = None) -> int:
    """An integer setting from the environment; a bad value is a clear error, not a crash later."""
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(name, raw, "must be an integer") from None


def env_float(name: str, default: float, *, environ: dict[str, str] | None = None) -> float:
    """A number setting from the environment (see :func:`env_int`)."""
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValidationError(name, raw, "must be a number") from None
