"""ProcessedAlerts: turn AlertMatcher's success records into one notification per fire.

Input is the Lambda Destinations record of a successful matcher invocation (see
:mod:`~cryptoalerts.aws.destinations`). For every fire it carries, inline or by
reference to the store, the function first claims the fire with
``store.mark_notified(alert_id, seq)`` and publishes only if the claim is new: a
record delivered twice, or two records covering the same fire, notify once.

The claim comes before the publish, as the store contract asks, so a publish that
fails *after* its claim is not retried by a redelivery: that gap is logged with
the fire's key at ERROR level (``notification lost``) and the invocation fails,
so the record is kept by Lambda's retry and failure handling for inspection.

A record that cannot be parsed is logged with its context and raises: it is never
dropped silently. Failure records (``RetriesExhausted`` ...) are not expected here
(they go to the failure queue) and are logged and skipped.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptoalerts.aws.destinations import InvocationRecord
from cryptoalerts.aws.events import LambdaContext
from cryptoalerts.aws.matcher import store_url_from_env
from cryptoalerts.aws.publish import Publisher
from cryptoalerts.aws.results import MatcherResult
from cryptoalerts.aws.runtime import Container
from cryptoalerts.aws.telemetry import Telemetry
from cryptoalerts.errors import StoreError, ValidationError
from cryptoalerts.model import Fired

if TYPE_CHECKING:
    from cryptoalerts.stores import AlertStore

__all__ = ["ProcessedFunction", "ProcessedSettings", "resolve_fires"]


@dataclass(frozen=True, slots=True)
class ProcessedSettings:
    store_url: str
    topic_arn: str | None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProcessedSettings:
        """Store as for the matcher; ``NOTIFICATIONS_TOPIC_ARN`` names the SNS topic."""
        env = os.environ if environ is None else environ
        return cls(store_url_from_env(env), env.get("NOTIFICATIONS_TOPIC_ARN") or None)


async def resolve_fires(result: MatcherResult, store: AlertStore) -> list[Fired]:
    """The fires a matcher result refers to, read from the store unless inline.

    Raises:
        StoreError: a fire referenced by key is not in the store (it must be: the
            matcher commits before it returns).
    """
    if result.fired is not None:
        return list(result.fired)
    if result.keys is not None:
        fires = []
        for alert_id, seq in result.keys:
            fire = await store.get_fire(alert_id, seq)
            if fire is None:
                raise StoreError(f"fire ({alert_id!r}, {seq}) of batch {result.batch_id} is not in the store")
            fires.append(fire)
        return fires
    out: list[Fired] = []
    for span in result.ranges or ():
        out.extend(await store.list_fires(symbol=span.symbol, ts_from=span.ts_from, ts_to=span.ts_to))
    return out


class ProcessedFunction:
    """The ProcessedAlerts app: ``APP(event, context)`` is the whole handler."""

    def __init__(
        self,
        *,
        settings: ProcessedSettings | None = None,
        store: AlertStore | None = None,
        publisher: Publisher | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._publisher = publisher
        self.container = Container()
        self.telemetry = Telemetry("ProcessedAlerts")

    def __call__(self, event: Any, context: LambdaContext | None = None) -> dict[str, Any]:
        return self.container.run(self.handle(event, context))

    def close(self) -> None:
        self.container.close()

    @property
    def settings(self) -> ProcessedSettings:
        if self._settings is None:
            self._settings = ProcessedSettings.from_env()
        return self._settings

    async def handle(self, event: Any, context: LambdaContext | None = None) -> dict[str, Any]:
        """Notify every fire of one success record; returns what was done.

        Raises:
            ValidationError: the record, or the matcher result inside it, is malformed.
            StoreError: the store failed or lacks a referenced fire (Lambda retries).
        """
        started = self.telemetry.start(context)
        try:
            return await self._handle(event)
        except Exception:
            self.telemetry.count("Errors", 1)
            summary = sorted(event)[:8] if isinstance(event, dict) else type(event).__name__
            self.telemetry.logger.exception("destination record failed", extra={"record_keys": summary})
            raise
        finally:
            self.telemetry.finish(started)

    async def _handle(self, event: Any) -> dict[str, Any]:
        record = InvocationRecord.from_dict(event)
        ctx = record.request_context
        if not record.succeeded:
            self.telemetry.count("FailureRecordsSkipped", 1)
            self.telemetry.logger.warning(
                "not a success record; skipped", extra={"condition": ctx.condition, "request_id": ctx.request_id}
            )
            return {"condition": ctx.condition, "published": 0, "duplicates": 0}
        if not record.has_response:
            raise ValidationError("responsePayload", None, "is required in a Success record")
        result = MatcherResult.from_payload(record.response_payload)
        store = await self._get_store()
        publisher = await self._get_publisher()
        fires = await resolve_fires(result, store)
        published = duplicates = 0
        for fire in fires:
            if not await store.mark_notified(fire.alert_id, fire.seq):
                duplicates += 1
                continue
            try:
                await publisher.publish(fire)
            except Exception:
                self.telemetry.logger.exception(
                    "notification lost", extra={"alert_id": fire.alert_id, "seq": fire.seq}
                )
                raise
            published += 1
        self.telemetry.count("NotificationsPublished", published)
        self.telemetry.count("NotificationsDuplicate", duplicates)
        self.telemetry.logger.info(
            "record processed",
            extra={
                "batch_id": result.batch_id,
                "request_id": ctx.request_id,
                "invoke_count": ctx.approximate_invoke_count,
                "published": published,
                "duplicates": duplicates,
            },
        )
        return {
            "condition": ctx.condition,
            "batch_id": result.batch_id,
            "published": published,
            "duplicates": duplicates,
        }

    async def _get_store(self) -> AlertStore:
        if self._store is None:
            from cryptoalerts.stores import open_store

            self._store = await self.container.enter(open_store(self.settings.store_url))
        return self._store

    async def _get_publisher(self) -> Publisher:
        if self._publisher is None:
            topic = self.settings.topic_arn
            if not topic:
                raise ValidationError("NOTIFICATIONS_TOPIC_ARN", None, "must name the SNS topic to publish to")
            from cryptoalerts.aws.publish import SnsPublisher

            self._publisher = await self.container.enter(SnsPublisher(topic))
        return self._publisher
