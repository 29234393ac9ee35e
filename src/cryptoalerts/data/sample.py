"""The sample market the ``demo`` command replays, rebuilt from a few numbers.

Shipping days of per-second ticks as CSV would weigh hundreds of megabytes, so the
package ships ``sample_market.json`` (a few hundred bytes: per-symbol start price,
price increment, volatility, seed) and ``sample_alerts.jsonl`` (alerts drawn by
``python -m cryptoalerts.data.generate`` against the rebuilt paths), and this module
rebuilds the ticks on demand in about a second.

Determinism. The same files give the same ticks on every machine and numpy
version: randomness comes only from ``PCG64.random_raw`` (numpy guarantees bit
generator streams are stable, unlike the distribution methods), steps are integers
derived from those bits with integer arithmetic, and prices are rounded to the
symbol's increment (``units / scale``) so a last-bit difference in ``exp`` cannot
move a price (it could only matter at an exact rounding tie).

Delivery is at-least-once in production, so the stream also carries a few
re-delivered ticks: exact duplicates right after the original (counted as
``duplicate``) and copies of ticks a few seconds old arriving late (``stale``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from cryptoalerts.model import Alert

__all__ = ["Market", "SampleTicks", "SymbolSpec", "load_market", "sample_alerts", "sample_ticks", "simulate"]

MARKET_FILE: Final = "sample_market.json"
ALERTS_FILE: Final = "sample_alerts.jsonl"

_BP: Final = 1e-4  # one basis point, the unit of a walk step
_JUMP_ODDS: Final = 1 << 16  # 16 random bits decide whether a second holds a jump


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One symbol's random walk: log-price moves in whole basis points each second.

    ``scale`` is the number of price units per 1 (100 for a cent increment); ``vol``
    multiplies the step (a step is -2..2 bp with variance 1, so ``vol=1`` is about
    60 % annualised, like BTC); ``jump_per_day`` is the expected number of jumps of
    30..285 bp per day; ``offset_ms`` places the symbol's tick within each second.
    """

    symbol: str
    start: float
    scale: int
    vol: int
    jump_per_day: int
    offset_ms: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol, "start": self.start, "scale": self.scale, "vol": self.vol,
            "jump_per_day": self.jump_per_day, "offset_ms": self.offset_ms, "seed": self.seed,
        }


@dataclass(frozen=True, slots=True)
class Market:
    """The whole sample: ``seconds`` of per-second walks from epoch ``t0``, observed
    every ``interval_s`` seconds (one tick per symbol per interval).

    ``duplicate_ppm``/``late_ppm`` are the parts per million of ticks re-delivered
    as exact duplicates and as late (stale) copies.
    """

    t0: int
    seconds: int
    interval_s: int
    symbols: tuple[SymbolSpec, ...]
    duplicate_ppm: int
    late_ppm: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "t0": self.t0, "seconds": self.seconds, "interval_s": self.interval_s, "duplicate_ppm": self.duplicate_ppm,
            "late_ppm": self.late_ppm, "seed": self.seed, "symbols": [s.to_dict() for s in self.symbols],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Market:
        return cls(
            int(data["t0"]), int(data["seconds"]), int(data["interval_s"]),
            tuple(SymbolSpec(**s) for s in data["symbols"]),
            int(data["duplicate_ppm"]), int(data["late_ppm"]), int(data["seed"]),
        )


@dataclass(frozen=True, slots=True)
class SampleTicks:
    """Ticks as parallel arrays, in delivery order (the shape ``process_arrays`` takes)."""

    symbols: npt.NDArray[np.str_]
    prices: npt.NDArray[np.float64]
    timestamps: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.prices)


def _bits(raw: npt.NDArray[np.uint64], shift: int, width: int) -> npt.NDArray[np.int64]:
    return ((raw >> np.uint64(shift)) & np.uint64((1 << width) - 1)).astype(np.int64)


def simulate(spec: SymbolSpec, seconds: int) -> npt.NDArray[np.float64]:
    """The symbol's price at each of ``seconds`` seconds, rounded to its increment.

    O(seconds), vectorised. The first price is ``spec.start`` rounded.
    """
    raw = np.random.PCG64(spec.seed).random_raw(seconds)
    # Four fair bits summed minus 2: a step of -2..2 bp with mean 0 and variance 1.
    step = _bits(raw, 0, 1) + _bits(raw, 1, 1) + _bits(raw, 2, 1) + _bits(raw, 3, 1) - 2
    step *= spec.vol
    jump_below = spec.jump_per_day * _JUMP_ODDS // 86_400
    jump = _bits(raw, 8, 16) < jump_below
    size = (_bits(raw, 24, 8) + 30) * np.where(_bits(raw, 32, 1) == 1, 1, -1)
    step = np.where(jump, size, step)
    step[0] = 0
    log_move = np.cumsum(step) * _BP
    units = np.maximum(np.rint(spec.start * spec.scale * np.exp(log_move)), 1.0)
    return units / spec.scale


def sample_ticks(market: Market | None = None, *, seconds: int | None = None) -> SampleTicks:
    """Rebuild the sample tick stream (all symbols interleaved by time, plus re-deliveries).

    ``seconds`` takes a prefix of the market (for quick tests). Deterministic.
    """
    market = market or load_market()
    span = market.seconds if seconds is None else min(seconds, market.seconds)
    step = market.interval_s
    n = (span + step - 1) // step
    specs = sorted(market.symbols, key=lambda s: (s.offset_ms, s.symbol))
    k = len(specs)
    grid = np.empty((n, k), dtype=np.float64)
    for col, spec in enumerate(specs):
        grid[:, col] = simulate(spec, market.seconds)[: n * step : step]
    offsets = np.array([s.offset_ms / 1000 for s in specs])
    ts = (market.t0 + step * np.arange(n, dtype=np.float64))[:, None] + offsets[None, :]
    names = np.array([s.symbol for s in specs])
    sym = np.broadcast_to(names, (n, k)).ravel()
    prices = grid.ravel()
    stamps = ts.ravel()
    # Re-deliveries: after flat position j, a copy of tick j (duplicate) or of the
    # same symbol's tick 1..16 intervals earlier (late, hence stale).
    raw = np.random.PCG64(market.seed).random_raw(prices.size)
    draw = (raw % np.uint64(1_000_000)).astype(np.int64)
    dup_at = np.flatnonzero(draw < market.duplicate_ppm)
    late_at = np.flatnonzero((draw >= market.duplicate_ppm) & (draw < market.duplicate_ppm + market.late_ppm))
    late_src = late_at - k * (1 + _bits(raw[late_at], 32, 4))
    keep = late_src >= 0
    late_at, late_src = late_at[keep], late_src[keep]
    at = np.concatenate([dup_at, late_at])
    src = np.concatenate([dup_at, late_src])
    order = np.argsort(at, kind="stable")
    at, src = at[order] + 1, src[order]
    return SampleTicks(
        np.insert(sym, at, sym[src]), np.insert(prices, at, prices[src]), np.insert(stamps, at, stamps[src])
    )


def load_market() -> Market:
    """The market parameters shipped with the package."""
    text = resources.files("cryptoalerts.data").joinpath(MARKET_FILE).read_text(encoding="utf-8")
    return Market.from_dict(json.loads(text))


def sample_alerts() -> list[Alert]:
    """The alerts shipped with the package (every condition and trigger)."""
    text = resources.files("cryptoalerts.data").joinpath(ALERTS_FILE).read_text(encoding="utf-8")
    return [Alert.from_dict(json.loads(line)) for line in text.splitlines() if line.strip()]
