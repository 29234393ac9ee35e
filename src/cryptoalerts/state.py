"""Runtime state of an index, as plain values that stores can persist.

The index is a cache that can be rebuilt from a store: alerts plus this state give
back an index that fires exactly as the original would have.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["AlertState", "IndexState", "SymbolState", "TickCounts"]


@dataclass(frozen=True, slots=True)
class AlertState:
    """Per-alert firing state.

    ``seq`` counts fires so far (the next fire gets ``seq + 1``); ``armed`` is False
    while a fired level alert waits for its condition to turn false;
    ``last_fire_ts`` is the ts of the previous fire (for ``cooldown_s``).
    """

    armed: bool = True
    last_fire_ts: float | None = None
    seq: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"armed": self.armed, "last_fire_ts": self.last_fire_ts, "seq": self.seq}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertState:
        lf = data.get("last_fire_ts")
        return cls(bool(data.get("armed", True)), None if lf is None else float(lf), int(data.get("seq", 0)))


@dataclass(frozen=True, slots=True)
class SymbolState:
    """Per-symbol tick state: the last accepted tick and the recent accepted ticks.

    ``history_ts``/``history_price`` hold accepted ticks of the last ``history_s``
    seconds (oldest first); percentage-move alerts take their window minimum and
    maximum from them. ``AlertIndex.export_state`` keeps only the ticks a later
    window's minimum or maximum can still be (none has a later tick at a price
    at least as extreme), which is all a restored index needs.
    """

    last_price: float
    last_ts: float
    history_ts: tuple[float, ...] = ()
    history_price: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "last_price": self.last_price,
            "last_ts": self.last_ts,
            "history_ts": list(self.history_ts),
            "history_price": list(self.history_price),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SymbolState:
        return cls(
            float(data["last_price"]),
            float(data["last_ts"]),
            tuple(float(x) for x in data.get("history_ts", ())),
            tuple(float(x) for x in data.get("history_price", ())),
        )


@dataclass(slots=True)
class TickCounts:
    """How many ticks were accepted, and how many were dropped as stale or duplicate."""

    accepted: int = 0
    stale: int = 0
    duplicate: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"accepted": self.accepted, "stale": self.stale, "duplicate": self.duplicate}


@dataclass(frozen=True, slots=True)
class IndexState:
    """Everything an index needs, beside its alerts, to go on exactly where it was."""

    symbols: dict[str, SymbolState] = field(default_factory=dict)
    alerts: dict[str, AlertState] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbols": {k: v.to_dict() for k, v in self.symbols.items()},
            "alerts": {k: v.to_dict() for k, v in self.alerts.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IndexState:
        return cls(
            {k: SymbolState.from_dict(v) for k, v in data.get("symbols", {}).items()},
            {k: AlertState.from_dict(v) for k, v in data.get("alerts", {}).items()},
        )
