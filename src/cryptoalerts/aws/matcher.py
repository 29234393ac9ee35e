"""AlertMatcher: match one tick batch with a warm engine and record the fires once.

The engine (an in-memory index loaded from the store) lives as long as the
container: a cold start loads every live alert once, each warm invocation first
applies the store's change feed (``engine.refresh()``) so alerts added or deleted
since are honoured, then matches. Exactly-once firing is the engine's (symbol
commits in the store); this module adds nothing that could break it, which is why
a duplicated or retried event is harmless: its ticks are stale or duplicate by
then, and fires an earlier attempt committed are re-found and returned again for
ProcessedAlerts, which notifies each ``(alert_id, seq)`` once.

Errors are raised, never swallowed: Lambda then retries the event (twice, 1 and 2
minutes apart) and finally hands it to the on-failure destination.

Store: ``CRYPTOALERTS_STORE_URL`` (any URL ``open_store`` takes), else
``CRYPTOALERTS_TABLE`` as ``dynamodb://<table>``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptoalerts.aws.batches import DEFAULT_ASYNC_LIMIT_BYTES, TickBatch
from cryptoalerts.aws.events import LambdaContext
from cryptoalerts.aws.results import RECORD_OVERHEAD_BYTES, shape_result
from cryptoalerts.aws.runtime import Container, env_int
from cryptoalerts.aws.telemetry import Telemetry
from cryptoalerts.errors import ValidationError

if TYPE_CHECKING:
    from cryptoalerts.engine import AlertEngine
    from cryptoalerts.stores import AlertStore

__all__ = ["MatcherFunction", "MatcherSettings", "store_url_from_env"]


def store_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """``CRYPTOALERTS_STORE_URL``, else ``dynamodb://$CRYPTOALERTS_TABLE``.

    Raises:
        ValidationError: neither is set.
    """
    env = os.environ if environ is None else environ
    url = env.get("CRYPTOALERTS_STORE_URL")
    if url:
        return url
    table = env.get("CRYPTOALERTS_TABLE")
    if table:
        return f"dynamodb://{table}"
    raise ValidationError("CRYPTOALERTS_STORE_URL", None, "set it, or CRYPTOALERTS_TABLE, to name the store")


@dataclass(frozen=True, slots=True)
class MatcherSettings:
    store_url: str
    async_limit_bytes: int = DEFAULT_ASYNC_LIMIT_BYTES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MatcherSettings:
        env = dict(os.environ if environ is None else environ)
        return cls(
            store_url_from_env(env),
            env_int("ASYNC_PAYLOAD_LIMIT_BYTES", DEFAULT_ASYNC_LIMIT_BYTES, environ=env),
        )


class MatcherFunction:
    """The AlertMatcher app: ``APP(event, context)`` is the whole handler.

    Give it a ``store`` (already open, owned by the caller) or let it open one from
    the settings on the container's loop at the first invocation.
    """

    def __init__(self, *, settings: MatcherSettings | None = None, store: AlertStore | None = None) -> None:
        self._settings = settings
        self._store = store
        self._engine: AlertEngine | None = None
        self.container = Container()
        self.telemetry = Telemetry("AlertMatcher")

    def __call__(self, event: Any, context: LambdaContext | None = None) -> dict[str, Any]:
        return self.container.run(self.handle(event, context))

    def close(self) -> None:
        """Close the engine, the store it opened and the loop."""
        self._engine = None
        self.container.close()

    @property
    def settings(self) -> MatcherSettings:
        if self._settings is None:
            self._settings = MatcherSettings.from_env()
        return self._settings

    async def handle(self, event: Any, context: LambdaContext | None = None) -> dict[str, Any]:
        """Match the batch in ``event``; returns the shaped result (see :mod:`~cryptoalerts.aws.results`).

        Raises:
            ValidationError: the event is not a tick batch (retrying cannot help, but
                raising is what routes it to the failure destination).
            StoreError: the store failed; Lambda retries.
        """
        started = self.telemetry.start(context)
        batch_id = event.get("batch_id") if isinstance(event, dict) else None
        try:
            batch = TickBatch.from_payload(event)
            engine = await self._warm_engine()
            result = await engine.process(batch.ticks)
            counts = result.counts
            request_bytes = len(json.dumps(event, separators=(",", ":")).encode("utf-8"))
            budget = self.settings.async_limit_bytes - request_bytes - RECORD_OVERHEAD_BYTES
            shaped = shape_result(batch.batch_id, result.fired, counts, budget)
        except Exception:
            self.telemetry.count("Errors", 1)
            self.telemetry.logger.exception("tick batch failed", extra={"batch_id": batch_id})
            raise
        else:
            self.telemetry.count("TicksAccepted", counts.accepted)
            self.telemetry.count("TicksStale", counts.stale)
            self.telemetry.count("TicksDuplicate", counts.duplicate)
            self.telemetry.count("AlertsFired", len(result.fired))
            self.telemetry.logger.info(
                "tick batch matched",
                extra={"batch_id": batch.batch_id, "counts": counts.to_dict(), "fired": len(result.fired)},
            )
        finally:
            self.telemetry.finish(started)
        return shaped

    async def _warm_engine(self) -> AlertEngine:
        if self._engine is not None:
            await self._engine.refresh()
            return self._engine
        from cryptoalerts.engine import AlertEngine
        from cryptoalerts.stores import open_store

        if self._store is None:
            self._store = await self.container.enter(open_store(self.settings.store_url))
        self._engine = await self.container.enter(AlertEngine(self._store))
        return self._engine
