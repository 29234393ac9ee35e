"""The tick-batch payload the webhook sends AlertMatcher, sized for the async limit.

Payload (JSON, UTF-8)::

    {"batch_id": "<32 hex>", "ticks": [{"symbol": "BTC-USD", "price": 65000.5, "ts": 1700000000.0}, ...]}

``batch_id`` is the first 128 bits of SHA-256 over the serialised ``ticks`` list,
so the same ticks always get the same id: a POST retried by the sender, or an
event Lambda delivers twice, can be traced through logs and destination records.
(Firing is exactly-once regardless; it rests on the store's symbol commits.)

Lambda's asynchronous payload limit is 1 MB today and was 256 KB before October
2025, so the limit is a setting (``ASYNC_PAYLOAD_LIMIT_BYTES``), never a constant
here. The destination record AWS builds carries the request payload *and* the
matcher's response, so by default a batch takes at most half of the limit
(:data:`REQUEST_SHARE`) and the response the other half.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptoalerts.errors import ValidationError
from cryptoalerts.model import Tick

__all__ = [
    "DEFAULT_ASYNC_LIMIT_BYTES",
    "REQUEST_SHARE",
    "TickBatch",
    "build_batches",
    "parse_tick_body",
]

DEFAULT_ASYNC_LIMIT_BYTES: Final = 1_048_576
REQUEST_SHARE: Final = 0.5
_ID_LEN: Final = 32
_ENVELOPE: Final = len('{"batch_id":"","ticks":}') + _ID_LEN


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True, slots=True)
class TickBatch:
    """One matcher invocation's worth of ticks and its content-derived id."""

    batch_id: str
    ticks: tuple[Tick, ...]

    def to_payload(self) -> bytes:
        """The exact bytes sent to Lambda (see the module docstring)."""
        ticks = "[" + ",".join(_dumps(t.to_dict()) for t in self.ticks) + "]"
        return ('{"batch_id":"' + self.batch_id + '","ticks":' + ticks + "}").encode("utf-8")

    @classmethod
    def from_payload(cls, payload: object) -> TickBatch:
        """Parse the matcher's event (already JSON-decoded by Lambda).

        Raises:
            ValidationError: naming the bad field (``ticks[3].price`` ...).
        """
        if not isinstance(payload, dict):
            raise ValidationError("event", type(payload).__name__, "must be a tick batch object")
        batch_id = payload.get("batch_id")
        if not isinstance(batch_id, str) or not batch_id:
            raise ValidationError("batch_id", batch_id, "must be a non-empty string")
        return cls(batch_id, parse_tick_list(payload.get("ticks"), "ticks"))


def parse_tick_list(items: object, where: str) -> tuple[Tick, ...]:
    """Validate a JSON list of tick objects; errors name ``where[i].field``."""
    if not isinstance(items, list):
        raise ValidationError(where, type(items).__name__, "must be a list of ticks")
    if not items:
        raise ValidationError(where, items, "must hold at least one tick")
    ticks = []
    for i, item in enumerate(items):
        try:
            ticks.append(Tick.from_dict(item))
        except ValidationError as exc:
            raise ValidationError(f"{where}[{i}].{exc.field}", exc.value, exc.reason) from None
    return tuple(ticks)


def parse_tick_body(body: bytes) -> tuple[Tick, ...]:
    """The ticks of a webhook body: one tick object, a list of them, or ``{"ticks": [...]}``.

    Raises:
        ValidationError: the body is not JSON, or a tick is malformed (the error
            names the field, e.g. ``ticks[2].price``, and the bad value).
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise ValidationError("body", body[:40].decode("utf-8", "replace"), f"is not valid JSON ({exc})") from None
    if isinstance(data, dict) and "ticks" in data:
        extra = sorted(set(data) - {"ticks"})
        if extra:
            raise ValidationError(extra[0], data[extra[0]], "is not a field of a tick batch (only 'ticks')")
        return parse_tick_list(data["ticks"], "ticks")
    if isinstance(data, dict):
        return (Tick.from_dict(data),)
    if isinstance(data, list):
        return parse_tick_list(data, "ticks")
    raise ValidationError("body", data, "must be a tick object, a list of ticks or {'ticks': [...]}")


def _batch_id(ticks_json: str) -> str:
    return hashlib.sha256(ticks_json.encode("utf-8")).hexdigest()[:_ID_LEN]


def build_batches(ticks: Iterable[Tick], max_payload_bytes: int) -> list[TickBatch]:
    """Split ``ticks`` into batches whose payloads are each at most ``max_payload_bytes``.

    Ticks are ordered by ``(symbol, ts)`` first (stable, so equal timestamps keep
    the sender's order): each symbol's ticks are contiguous and in time order, so a
    symbol usually lands in one batch and no tick of it is dropped as stale only
    because the sender listed it out of order. O(n log n).

    Raises:
        ValidationError: ``max_payload_bytes`` cannot hold even one tick.
    """
    ordered: Sequence[Tick] = sorted(ticks, key=lambda t: (t.symbol, t.ts))
    batches: list[TickBatch] = []
    group: list[Tick] = []
    parts: list[str] = []
    size = _ENVELOPE + 2  # the brackets of the ticks list

    def flush() -> None:
        ticks_json = "[" + ",".join(parts) + "]"
        batches.append(TickBatch(_batch_id(ticks_json), tuple(group)))

    for tick in ordered:
        part = _dumps(tick.to_dict())
        add = len(part.encode("utf-8")) + (1 if parts else 0)
        if parts and size + add > max_payload_bytes:
            flush()
            group, parts, size = [], [], _ENVELOPE + 2
            add -= 1
        if size + add > max_payload_bytes:
            raise ValidationError("max_payload_bytes", max_payload_bytes, "is too small to hold one tick")
        group.append(tick)
        parts.append(part)
        size += add
    if parts:
        flush()
    return batches
