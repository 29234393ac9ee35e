"""ProcessedAlerts: turn AlertMatcher's success records into one notification per fire.

Input is the Lambda Destinations record of a successful matcher invocation (see
:mod:`~cryptoalerts.aws.destinations`). For every fire it carries, inline or by
reference to the store, the function **claims, publishes, confirms**:

1. ``store.claim_notification(alert_id, seq, now=..., lease_s=...)``: granted if
   the fire was never claimed, or its claim was never confirmed and is older than
   the lease. Refused and confirmed: a duplicate, skipped. Refused and not
   confirmed: another invocation holds a live claim; it is left to that one.
2. publish to SNS (message attributes ``alert_id``/``seq`` carry the key);
3. ``store.confirm_notification(alert_id, seq)``.

If a publish fails nothing is released (the claim simply expires) and, after the
other fires were tried, the invocation raises, so Lambda retries the record; the
retry that comes after the lease publishes again. A fire held by a live claim
also makes the invocation raise, for the same reason: if that claimant fails, only
a later retry of this record can still send it. Guarantee: **no notification is
lost** while Lambda still retries (see ``docs/lambda.md`` for the lease and retry
timing); a **duplicate** is possible only when a publish succeeded and its confirm
failed, and consumers dedupe on the ``alert_id``/``seq`` attributes.

A record that cannot be parsed is logged with its context and raises: it is never
dropped silently. Failure records (``RetriesExhausted`` ...) are not expected here
(they go to the failure queue) and are logged and skipped.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cryptoalerts.aws.destinations import InvocationRecord
from cryptoalerts.aws.events import LambdaContext
from cryptoalerts.aws.matcher import store_url_from_env
from cryptoalerts.aws.publish import Publisher
from cryptoalerts.aws.results import MatcherResult
from cryptoalerts.aws.runtime import Container, env_float
from cryptoalerts.aws.telemetry import Telemetry
from cryptoalerts.errors import NotificationsPendingError, StoreError, ValidationError
from cryptoalerts.model import Fired

if TYPE_CHECKING:
    from cryptoalerts.stores import AlertStore

__all__ = ["DEFAULT_LEASE_S", "NotificationsPendingError", "ProcessedFunction", "ProcessedSettings", "resolve_fires"]

#: How long a claim blocks other notifiers: longer than the function may run
#: (timeout 30 s), so a live claimant is never doubled; shorter than Lambda's
#: second retry (~180 s after the first attempt), so that retry can publish again.
DEFAULT_LEASE_S = 120.0


@dataclass(frozen=True, slots=True)
class ProcessedSettings:
    store_url: str
    topic_arn: str | None
    lease_s: float = DEFAULT_LEASE_S

    def __post_init__(self) -> None:
        if not self.lease_s > 0:
            raise ValidationError("CRYPTOALERTS_NOTIFICATION_LEASE_S", self.lease_s, "must be a number of seconds > 0")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ProcessedSettings:
        """Store as for the matcher; ``NOTIFICATIONS_TOPIC_ARN`` names the SNS topic;
        ``CRYPTOALERTS_NOTIFICATION_LEASE_S`` the claim lease (default 120)."""
        env = os.environ if environ is None else environ
        lease = env_float("CRYPTOALERTS_NOTIFICATION_LEASE_S", DEFAULT_LEASE_S, environ=dict(env))
        return cls(store_url_from_env(env), env.get("NOTIFICATIONS_TOPIC_ARN") or None, lease)


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
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._store = store
        self._publisher = publisher
        self._clock = clock
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
        lease_s = self.settings.lease_s
        published = duplicates = 0
        failed: list[tuple[str, int]] = []
        held: list[tuple[str, int]] = []
        first_error: Exception | None = None
        for fire in fires:
            alert_id, seq = fire.key
            if not await store.claim_notification(alert_id, seq, now=self._clock(), lease_s=lease_s):
                if await store.notification_confirmed(alert_id, seq):
                    duplicates += 1
                else:
                    held.append(fire.key)
                continue
            try:
                await publisher.publish(fire)
            except Exception as exc:  # any publish failure: the claim expires, a retry sends it
                self.telemetry.logger.exception(
                    "publish failed; retried after the lease", extra={"alert_id": alert_id, "seq": seq}
                )
                failed.append(fire.key)
                first_error = first_error or exc
                continue
            await store.confirm_notification(alert_id, seq)
            published += 1
        self.telemetry.count("NotificationsPublished", published)
        self.telemetry.count("NotificationsDuplicate", duplicates)
        if failed or held:
            self.telemetry.count("NotificationsPending", len(failed) + len(held))
            raise NotificationsPendingError(failed, held) from first_error
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
