"""Per-symbol order book of alerts: the sorted families and the quiet band.

Internal to :mod:`cryptoalerts.index`; ``docs/implementation.md`` explains the design.

Every condition maps onto sorted *families* of keys (thresholds, channel bounds or
percentages). A family holds unique keys in a ``SortedList`` and, per key, a
bucket ``{alert_id: Alert}``, so thousands of alerts sharing a round-number
threshold still add and remove in O(log n).

After every tick that does real work the book computes its **quiet band**
``[lo, hi]``: the closed range of prices such that any sequence of accepted ticks
staying inside it, before time ``next_event``, fires nothing and changes no alert
state. A tick inside the band costs two float comparisons.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from typing import TYPE_CHECKING

from sortedcontainers import SortedList

if TYPE_CHECKING:
    from cryptoalerts.model import Alert

__all__ = ["Book", "Family", "PctGroup", "Runtime"]

_INF = math.inf
_next_up = math.nextafter


def below(x: float) -> float:
    """The largest double < x."""
    return _next_up(x, -_INF)


def above(x: float) -> float:
    """The smallest double > x."""
    return _next_up(x, _INF)


class Family:
    """Alerts keyed by one float; unique keys sorted, alerts bucketed per key."""

    __slots__ = ("buckets", "keys")

    def __init__(self) -> None:
        self.keys: SortedList = SortedList()
        self.buckets: dict[float, dict[str, Alert]] = {}

    def __bool__(self) -> bool:
        return bool(self.buckets)

    def __len__(self) -> int:
        return sum(len(b) for b in self.buckets.values())

    def add(self, key: float, alert: Alert) -> None:
        """O(log n) for a new key, O(1) for an existing one."""
        bucket = self.buckets.get(key)
        if bucket is None:
            self.buckets[key] = {alert.id: alert}
            self.keys.add(key)
        else:
            bucket[alert.id] = alert

    def discard(self, key: float, alert_id: str) -> None:
        """O(1), plus O(log n) when the key's bucket empties."""
        bucket = self.buckets.get(key)
        if bucket is not None and bucket.pop(alert_id, None) is not None and not bucket:
            del self.buckets[key]
            self.keys.remove(key)

    def collect(self, keys: list[float]) -> list[Alert]:
        """Alerts under ``keys``, in key order then insertion order (a stable snapshot)."""
        buckets = self.buckets
        out: list[Alert] = []
        for key in keys:
            out.extend(buckets[key].values())
        return out

    def load_sorted(self, pairs: list[tuple[float, Alert]]) -> None:
        """Bulk load from ``(key, alert)`` pairs; the family must be empty."""
        buckets = self.buckets
        for key, alert in pairs:
            bucket = buckets.get(key)
            if bucket is None:
                buckets[key] = {alert.id: alert}
            else:
                bucket[alert.id] = alert
        self.keys = SortedList(buckets)


class PctGroup:
    """Percentage-move alerts of one symbol sharing one ``window_s``.

    ``qmin``/``qmax`` are monotonic deques of ``(ts, price)`` giving the window's
    minimum and maximum in amortised O(1) per tick; ``cursor`` is the absolute
    history position up to which they have been fed (they catch up lazily, on the
    slow path only, so quiet ticks never touch them).
    """

    __slots__ = ("cursor", "da", "dd", "qmax", "qmin", "ua", "ud", "w")

    def __init__(self, w: float, cursor: int) -> None:
        self.w = w
        self.ua = Family()  # moves_up_pct, armed, keyed by pct
        self.ud = Family()  # moves_up_pct, disarmed (rearm only)
        self.da = Family()  # moves_down_pct, armed
        self.dd = Family()  # moves_down_pct, disarmed
        self.qmin: deque[tuple[float, float]] = deque()
        self.qmax: deque[tuple[float, float]] = deque()
        self.cursor = cursor

    def __bool__(self) -> bool:
        return bool(self.ua or self.ud or self.da or self.dd)


class Runtime:
    """Mutable firing state of a ``rearm`` alert (``once`` alerts need none)."""

    __slots__ = ("armed", "last_fire", "parked", "seq")

    def __init__(self, armed: bool = True, last_fire: float | None = None, seq: int = 0) -> None:
        self.armed = armed
        self.last_fire = last_fire
        self.seq = seq
        self.parked = 0  # while cooling down: the token of its heap entry, else 0


class Book:
    """Everything the index keeps for one symbol."""

    __slots__ = (
        "above_a", "above_d", "below_a", "below_d",
        "cd", "cu", "el", "eu", "heap", "hi", "hist_base", "hist_p", "hist_ts",
        "last_price", "last_ts", "lo", "next_event", "parked", "pct", "symbol", "trim_at", "xl", "xu",
    )  # fmt: skip

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.last_price: float | None = None
        self.last_ts = -_INF
        # Quiet band; empty until the first tick so that tick takes the slow path.
        self.lo = _INF
        self.hi = -_INF
        self.next_event = _INF
        self.above_a = Family()  # above: once, and rearm armed; key threshold
        self.above_d = Family()  # above: rearm disarmed
        self.below_a = Family()
        self.below_d = Family()
        self.cu = Family()  # crosses_up and crosses, key threshold
        self.cd = Family()  # crosses_down and crosses
        self.el = Family()  # enters_channel keyed by lower
        self.eu = Family()  # enters_channel keyed by upper
        self.xl = Family()  # exits_channel keyed by lower
        self.xu = Family()  # exits_channel keyed by upper
        self.pct: dict[float, PctGroup] = {}
        self.parked: dict[str, Alert] = {}  # armed rearm alerts waiting out their cooldown
        self.heap: list[tuple[float, int, str]] = []  # (ready_ts, tiebreak, alert_id)
        self.hist_ts: list[float] = []
        self.hist_p: list[float] = []
        self.hist_base = 0  # absolute position of hist_*[0]
        self.trim_at = 4096

    def invalidate(self) -> None:
        """Force the next accepted tick onto the slow path (alerts changed)."""
        self.lo = _INF
        self.hi = -_INF

    def families(self) -> list[Family]:
        fams = [
            self.above_a, self.above_d, self.below_a, self.below_d,
            self.cu, self.cd, self.el, self.eu, self.xl, self.xu,
        ]  # fmt: skip
        for group in self.pct.values():
            fams += [group.ua, group.ud, group.da, group.dd]
        return fams

    def push_parked(self, ready: float, alert: Alert, token: int) -> None:
        """Park an armed alert until ``ready``; the heap entry is valid while tokens match."""
        self.parked[alert.id] = alert
        heapq.heappush(self.heap, (ready, token, alert.id))
