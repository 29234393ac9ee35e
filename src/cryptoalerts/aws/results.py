"""AlertMatcher's return value, sized so the destination record stays deliverable.

Lambda wraps the matcher's request *and* its response in one destination record,
and a record over the async limit is not delivered (only the
``DestinationDeliveryFailures`` metric says so). So the matcher returns the fires
in the richest form that fits the budget left by the request:

1. inline: ``{"batch_id", "counts", "count", "fired": [<Fired.to_dict()>, ...]}``;
2. by key: ``{..., "fired_keys": [["alert_id", seq], ...]}``;
3. by range: ``{..., "fired_ref": [{"symbol", "ts_from", "ts_to"}, ...]}``, one per
   symbol, read back with ``store.list_fires``. A range may also cover fires of
   another batch; notifying is idempotent on ``(alert_id, seq)``, so that costs a
   lookup, never a second notification.

Every fire committed is in the store before the matcher returns, so ProcessedAlerts
can always resolve forms 2 and 3.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from cryptoalerts.errors import ValidationError
from cryptoalerts.model import Fired
from cryptoalerts.state import TickCounts

__all__ = ["RECORD_OVERHEAD_BYTES", "FireRange", "MatcherResult", "shape_result"]

#: Bytes the record adds around the two payloads (version, timestamp, contexts, ARN), rounded up.
RECORD_OVERHEAD_BYTES: Final = 1024


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode("utf-8"))


@dataclass(frozen=True, slots=True)
class FireRange:
    """All fires of ``symbol`` with ``ts_from <= ts <= ts_to`` (the store's ``list_fires`` filter)."""

    symbol: str
    ts_from: float
    ts_to: float


@dataclass(frozen=True, slots=True)
class MatcherResult:
    """The parsed response payload: exactly one of ``fired``/``keys``/``ranges`` is used."""

    batch_id: str
    count: int
    counts: dict[str, int] = field(default_factory=dict)
    fired: tuple[Fired, ...] | None = None
    keys: tuple[tuple[str, int], ...] | None = None
    ranges: tuple[FireRange, ...] | None = None

    @classmethod
    def from_payload(cls, payload: object) -> MatcherResult:
        """Parse a matcher response; raises ``ValidationError`` naming the bad field."""
        if not isinstance(payload, dict):
            raise ValidationError("responsePayload", payload, "must be the matcher's result object")
        batch_id = payload.get("batch_id")
        count = payload.get("count")
        if not isinstance(batch_id, str) or not isinstance(count, int):
            raise ValidationError("responsePayload", sorted(payload)[:6], "needs batch_id and count")
        counts = payload.get("counts", {})
        try:
            if "fired" in payload:
                fired = tuple(Fired.from_dict(item) for item in payload["fired"])
                return cls(batch_id, count, counts, fired=fired)
            if "fired_keys" in payload:
                keys = tuple((str(k[0]), int(k[1])) for k in payload["fired_keys"])
                return cls(batch_id, count, counts, keys=keys)
            if "fired_ref" in payload:
                ranges = tuple(
                    FireRange(str(r["symbol"]), float(r["ts_from"]), float(r["ts_to"])) for r in payload["fired_ref"]
                )
                return cls(batch_id, count, counts, ranges=ranges)
        except (TypeError, KeyError, IndexError, ValueError) as exc:
            raise ValidationError("responsePayload", batch_id, f"has malformed fire references: {exc!r}") from None
        raise ValidationError("responsePayload", batch_id, "has none of fired, fired_keys, fired_ref")


def shape_result(batch_id: str, fired: Sequence[Fired], counts: TickCounts, budget_bytes: int) -> dict[str, Any]:
    """The richest response form (see the module docstring) that fits ``budget_bytes``. O(n)."""
    base: dict[str, Any] = {"batch_id": batch_id, "counts": counts.to_dict(), "count": len(fired)}
    inline = base | {"fired": [f.to_dict() for f in fired]}
    if _size(inline) <= budget_bytes:
        return inline
    by_key = base | {"fired_keys": [[f.alert_id, f.seq] for f in fired]}
    if _size(by_key) <= budget_bytes:
        return by_key
    spans: dict[str, list[float]] = {}
    for f in fired:
        span = spans.setdefault(f.symbol, [f.ts, f.ts])
        span[0] = min(span[0], f.ts)
        span[1] = max(span[1], f.ts)
    # The ticks of one batch cover at most a few thousand symbols, so this form always fits.
    return base | {"fired_ref": [{"symbol": s, "ts_from": lo, "ts_to": hi} for s, (lo, hi) in sorted(spans.items())]}
