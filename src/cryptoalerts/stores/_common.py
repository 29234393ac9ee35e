"""Rules every store applies the same way, kept in one place so stores cannot drift."""

from __future__ import annotations

import math

from cryptoalerts.errors import ValidationError
from cryptoalerts.model import Alert, Fired, Trigger
from cryptoalerts.state import AlertState

__all__ = ["claim_cutoff", "fire_order", "is_live", "not_initialized", "parse_watermark"]

INIT_HINT = "run `cryptoalerts init` (or `await store.init()`) first"


def is_live(alert: Alert, state: AlertState, now: float | None) -> bool:
    """Whether ``alert`` belongs in a cold-started index.

    A ``once`` alert that fired (``last_fire_ts`` set; ``seq`` alone is not the
    test, because a re-created id starts at its old ``seq``) is finished, and an alert whose
    ``expires_at <= now`` can never fire again; both stay in the store (their
    fire records refer to them) but are left out of :meth:`AlertStore.load`.
    """
    if alert.trigger is Trigger.ONCE and state.last_fire_ts is not None:
        return False
    return not (now is not None and alert.expires_at is not None and alert.expires_at <= now)


def fire_order(fire: Fired) -> tuple[float, str, int]:
    """The order :meth:`AlertStore.list_fires` returns: ``(ts, alert_id, seq)``."""
    return (fire.ts, fire.alert_id, fire.seq)


def not_initialized(what: str) -> str:
    """The message of :class:`StoreNotInitializedError`, naming the fix."""
    return f"{what} is not initialised: {INIT_HINT}"


def parse_watermark(watermark: str) -> int:
    """Watermarks of the memory and SQLite stores are change counters as strings."""
    if watermark == "":
        return 0
    try:
        value = int(watermark)
    except ValueError:
        raise ValidationError("watermark", watermark, "is not a watermark this store issued") from None
    if value < 0:
        raise ValidationError("watermark", watermark, "is not a watermark this store issued")
    return value


def claim_cutoff(now: float, lease_s: float) -> float:
    """Claims made *before* this time (``claimed_at < cutoff``) have expired.

    The one place the lease boundary is computed: a claim exactly ``lease_s`` old
    still holds, so every store grants and refuses at the same instant.

    Raises:
        ValidationError: ``now`` not finite, ``lease_s`` negative or not finite.
    """
    if not math.isfinite(now):
        raise ValidationError("now", now, "must be a finite Unix time")
    if not (math.isfinite(lease_s) and lease_s >= 0):
        raise ValidationError("lease_s", lease_s, "must be a finite number of seconds >= 0")
    return now - lease_s
