"""PriceWebhookProcessor: authenticate a price POST, split it, queue it for AlertMatcher.

Request: ``POST`` with a JSON body that is one tick ``{"symbol","price","ts"}``, a
list of ticks, or ``{"ticks": [...]}`` (base64-encoded bodies are decoded first),
signed as described in :mod:`cryptoalerts.aws.signing`.

Responses (JSON bodies, shaped for the v1 or 2.0 format the request came in):

- 202 ``{"accepted": n, "batches": [{"batch_id", "ticks", "request_id"}]}``: the
  ticks are queued for matching (fires are recorded and notified later);
- 400 ``{"error", "field"}``: not an HTTP event, not JSON, or a malformed tick
  (``field`` names it, e.g. ``ticks[2].price``);
- 401: missing, stale or wrong signature; 405: not a POST;
- 413: body over ``MAX_BODY_BYTES`` (default 1 MiB);
- 500: the service is misconfigured (no secret) or the async invoke failed; the
  sender should retry, which is safe (see :mod:`cryptoalerts.aws.batches`).

Rejected input changes nothing: nothing is queued before every check passed.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptoalerts.aws.batches import DEFAULT_ASYNC_LIMIT_BYTES, REQUEST_SHARE, TickBatch, build_batches, parse_tick_body
from cryptoalerts.aws.events import HttpRequest, LambdaContext, PayloadVersion, http_response, parse_http_event
from cryptoalerts.aws.invoke import Invoker
from cryptoalerts.aws.runtime import Container, env_float, env_int
from cryptoalerts.aws.secrets import SecretError, resolve_secret
from cryptoalerts.aws.signing import DEFAULT_TOLERANCE_S, SignatureError, verify
from cryptoalerts.aws.telemetry import Telemetry
from cryptoalerts.errors import ValidationError

__all__ = ["WebhookFunction", "WebhookSettings"]

DEFAULT_MAX_BODY_BYTES = 1_048_576


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """The webhook's knobs, read from the environment by :meth:`from_env`."""

    matcher_function: str = "AlertMatcher"
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    async_limit_bytes: int = DEFAULT_ASYNC_LIMIT_BYTES
    tolerance_s: float = DEFAULT_TOLERANCE_S

    @property
    def max_batch_bytes(self) -> int:
        """Bytes one batch may take: its share of the async (and destination record) limit."""
        return int(self.async_limit_bytes * REQUEST_SHARE)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WebhookSettings:
        """``MATCHER_FUNCTION_NAME``, ``MAX_BODY_BYTES``, ``ASYNC_PAYLOAD_LIMIT_BYTES``, ``SIGNATURE_TOLERANCE_S``."""
        env = dict(os.environ if environ is None else environ)
        return cls(
            matcher_function=env.get("MATCHER_FUNCTION_NAME") or "AlertMatcher",
            max_body_bytes=env_int("MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, environ=env),
            async_limit_bytes=env_int("ASYNC_PAYLOAD_LIMIT_BYTES", DEFAULT_ASYNC_LIMIT_BYTES, environ=env),
            tolerance_s=env_float("SIGNATURE_TOLERANCE_S", DEFAULT_TOLERANCE_S, environ=env),
        )


class _Reject(Exception):  # internal control flow, never escapes this module
    def __init__(self, status: int, error: str, field: str | None = None) -> None:
        super().__init__(error)
        self.status, self.error, self.field = status, error, field


class WebhookFunction:
    """The PriceWebhookProcessor app: ``APP(event, context)`` is the whole handler.

    Everything it needs is injectable (settings, secret, invoker, clock); what is
    not given is built on first use from the environment, on the container's loop,
    and reused while the container is warm.
    """

    def __init__(
        self,
        *,
        settings: WebhookSettings | None = None,
        secret: bytes | None = None,
        invoker: Invoker | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._secret = secret
        self._invoker = invoker
        self._clock = clock
        self.container = Container()
        self.telemetry = Telemetry("PriceWebhookProcessor")

    def __call__(self, event: Any, context: LambdaContext | None = None) -> dict[str, Any]:
        return self.container.run(self.handle(event, context))

    def close(self) -> None:
        """Close the clients and the loop (tests and the local runtime; Lambda just freezes)."""
        self.container.close()

    @property
    def settings(self) -> WebhookSettings:
        if self._settings is None:
            self._settings = WebhookSettings.from_env()
        return self._settings

    async def handle(self, event: Any, context: LambdaContext | None = None) -> dict[str, Any]:
        """Answer one HTTP event; never raises for bad input (see the module docstring)."""
        started = self.telemetry.start(context)
        version: PayloadVersion = "1.0" if isinstance(event, dict) and "httpMethod" in event else "2.0"
        try:
            request = parse_http_event(event)
            version = request.version
            batches, ids = await self._accept(request)
        except _Reject as rejected:
            self.telemetry.count(f"Rejected{rejected.status}", 1)
            self.telemetry.logger.info("request rejected", extra={"status": rejected.status, "reason": rejected.error})
            payload: dict[str, Any] = {"error": rejected.error}
            if rejected.field is not None:
                payload["field"] = rejected.field
            extra = {"allow": "POST"} if rejected.status == 405 else None
            return http_response(rejected.status, payload, version=version, headers=extra)
        except ValidationError as exc:  # the event itself is not an HTTP event
            self.telemetry.count("Rejected400", 1)
            return http_response(400, {"error": str(exc), "field": exc.field}, version=version)
        except SecretError:  # logged with its cause in _get_secret; the sender may retry
            self.telemetry.count("Errors", 1)
            return http_response(500, {"error": "webhook secret is not configured"}, version=version)
        finally:
            self.telemetry.finish(started)
        accepted = sum(len(b.ticks) for b in batches)
        return http_response(
            202,
            {
                "accepted": accepted,
                "batches": [
                    {"batch_id": b.batch_id, "ticks": len(b.ticks), "request_id": rid}
                    for b, rid in zip(batches, ids, strict=True)
                ],
            },
            version=version,
        )

    async def _accept(self, request: HttpRequest) -> tuple[list[TickBatch], list[str]]:
        settings = self.settings
        if request.method != "POST":
            raise _Reject(405, f"method {request.method} not allowed; use POST")
        if len(request.body) > settings.max_body_bytes:
            raise _Reject(413, f"body is {len(request.body)} bytes; the limit is {settings.max_body_bytes}")
        secret = await self._get_secret()
        try:
            verify(secret, request.header, request.body, self._clock(), tolerance_s=settings.tolerance_s)
        except SignatureError as exc:
            raise _Reject(401, str(exc)) from None
        try:
            ticks = parse_tick_body(request.body)
        except ValidationError as exc:
            raise _Reject(400, str(exc), exc.field) from None
        batches = build_batches(ticks, settings.max_batch_bytes)
        invoker = await self._get_invoker()
        ids = await asyncio.gather(
            *(invoker.invoke_async(settings.matcher_function, b.to_payload()) for b in batches)
        )
        self.telemetry.count("TicksReceived", len(ticks))
        self.telemetry.count("BatchesInvoked", len(batches))
        self.telemetry.logger.info(
            "ticks queued", extra={"ticks": len(ticks), "batch_ids": [b.batch_id for b in batches]}
        )
        return batches, list(ids)

    async def _get_secret(self) -> bytes:
        if self._secret is None:
            try:
                self._secret = await resolve_secret()
            except SecretError:
                self.telemetry.logger.exception("webhook secret unavailable")
                raise
        return self._secret

    async def _get_invoker(self) -> Invoker:
        if self._invoker is None:
            from cryptoalerts.aws.invoke import LambdaInvoker

            self._invoker = await self.container.enter(LambdaInvoker())
        return self._invoker
