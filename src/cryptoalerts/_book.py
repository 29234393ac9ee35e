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
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
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
    """Alerts keyed by one float: unique keys sorted, alerts bucketed per key.

    A bucket is the alert itself while it is alone under its key (most keys) and a
    ``{alert_id: Alert}`` dict once several share it, which keeps memory per alert
    low without losing O(1) removal from a crowded round-number threshold.
    Neighbour look-ups read the ``SortedList``'s sublists directly (``_lists``,
    ``_maxes``): the public accessors cost a Python call each, and these run on
    every slow-path tick.
    """

    __slots__ = ("buckets", "keys")

    def __init__(self) -> None:
        self.keys: SortedList = _EMPTY  # replaced by its own SortedList on the first add
        self.buckets: dict[float, Alert | dict[str, Alert]] = {}

    def __bool__(self) -> bool:
        return bool(self.buckets)

    def add(self, key: float, alert: Alert) -> None:
        """O(log n) for a new key, O(1) for an existing one."""
        buckets = self.buckets
        bucket = buckets.get(key)
        if bucket is None:
            buckets[key] = alert
            if self.keys is _EMPTY:
                self.keys = SortedList((key,))
            else:
                self.keys.add(key)
        elif type(bucket) is dict:
            bucket[alert.id] = alert
        else:
            buckets[key] = {bucket.id: bucket, alert.id: alert}  # type: ignore[union-attr,dict-item]

    def discard(self, key: float, alert_id: str) -> None:
        """O(1), plus O(log n) when the key's last alert goes."""
        buckets = self.buckets
        bucket = buckets.get(key)
        if bucket is None:
            return
        if type(bucket) is dict:
            if bucket.pop(alert_id, None) is not None and len(bucket) == 1:
                buckets[key] = next(iter(bucket.values()))
        elif bucket.id == alert_id:  # type: ignore[union-attr]
            del buckets[key]
            self.keys.remove(key)

    def collect(self, keys: Iterable[float]) -> list[Alert]:
        """Alerts under ``keys``, in key order (a snapshot that edits cannot disturb)."""
        buckets = self.buckets
        out: list[Alert] = []
        for key in keys:
            bucket = buckets[key]
            if type(bucket) is dict:
                out.extend(bucket.values())
            else:
                out.append(bucket)  # type: ignore[arg-type]
        return out

    def alerts(self) -> Iterator[Alert]:
        for bucket in self.buckets.values():
            if type(bucket) is dict:
                yield from bucket.values()
            else:
                yield bucket  # type: ignore[misc]

    def first(self) -> float:
        """Smallest key; the family must not be empty."""
        return self.keys._lists[0][0]  # type: ignore[no-any-return]

    def last(self) -> float:
        """Largest key; the family must not be empty."""
        return self.keys._lists[-1][-1]  # type: ignore[no-any-return]

    def around(self, p: float, closed_below: bool) -> tuple[float | None, float | None]:
        """The nearest keys on each side of ``p``, O(log n).

        ``closed_below``: ``(max{k <= p}, min{k > p})``; otherwise
        ``(max{k < p}, min{k >= p})``. ``None`` where there is no such key.
        """
        maxes = self.keys._maxes
        if not maxes:
            return None, None
        search = bisect_right if closed_below else bisect_left
        lists = self.keys._lists
        i = search(maxes, p)
        if i == len(maxes):
            return lists[-1][-1], None
        sub = lists[i]
        j = search(sub, p)
        if j:
            return sub[j - 1], sub[j]
        return (lists[i - 1][-1] if i else None), sub[j]

    def load_sorted(self, keys: list[float], alerts: list[Alert]) -> None:
        """Bulk load from keys in ascending order and their alerts; the family must be empty."""
        if len(set(keys)) == len(keys):  # the common case: one alert per key, built in C
            self.buckets = dict(zip(keys, alerts, strict=True))
            self.keys = SortedList(keys)
            return
        buckets = self.buckets
        get = buckets.get
        for key, alert in zip(keys, alerts, strict=True):
            bucket = get(key)
            if bucket is None:
                buckets[key] = alert
            elif type(bucket) is dict:
                bucket[alert.id] = alert
            else:
                buckets[key] = {bucket.id: bucket, alert.id: alert}  # type: ignore[union-attr,dict-item]
        self.keys = SortedList(buckets)


_EMPTY: SortedList = SortedList()  # shared by empty families; never mutated


class PctGroup:
    """Percentage-move alerts of one symbol sharing one ``window_s``.

    The window's minimum and maximum are read from the symbol's tick history on
    the slow path only, so quiet ticks never pay for them.
    """

    __slots__ = ("cache", "da", "dd", "ua", "ud", "w")

    def __init__(self, w: float) -> None:
        self.w = w
        # (end, min, min_pos, max, max_pos) in absolute history positions: the extremes
        # of the window as of position ``end``; extended with new ticks only, rebuilt
        # when an extreme's last occurrence has left the window.
        self.cache: tuple[int, float, int, float, int] | None = None
        self.ua = Family()  # moves_up_pct, armed, keyed by pct
        self.ud = Family()  # moves_up_pct, disarmed (rearm only)
        self.da = Family()  # moves_down_pct, armed
        self.dd = Family()  # moves_down_pct, disarmed

    def __bool__(self) -> bool:
        return bool(self.ua.buckets or self.ud.buckets or self.da.buckets or self.dd.buckets)


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
        "last_price", "last_ts", "lo", "next_event", "parked", "pct", "phi", "plo", "pnext", "symbol",
        "trim_at", "xl", "xu",
    )  # fmt: skip

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self.last_price: float | None = None
        self.last_ts = -_INF
        # Quiet band; empty until the first tick so that tick takes the slow path.
        self.lo = _INF
        self.hi = -_INF
        self.next_event = _INF
        # The percentage groups' share of the band, kept apart: a slow tick inside it
        # (caused by some other family) need not look at the percentage alerts at all.
        self.plo = _INF
        self.phi = -_INF
        self.pnext = _INF
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
        self.hist_base = 0  # absolute position of hist_*[0] (trimming moves it on)
        self.trim_at = 4096

    def invalidate(self, pct: bool = True) -> None:
        """Force the next accepted tick onto the slow path (and ``pct``: the percentage groups too)."""
        self.lo = _INF
        self.hi = -_INF
        if pct:
            self.plo = _INF
            self.phi = -_INF

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
