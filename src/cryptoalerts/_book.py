"""Per-symbol order book of alerts: the sorted families and the quiet band.

Internal to :mod:`cryptoalerts.index`; ``docs/implementation.md`` explains the design.

Every condition maps onto sorted *families* of keys (thresholds, channel bounds or
percentages). A family holds unique keys in sorted chunks and, per key, a
bucket (the alert, or ``{alert_id: Alert}``), so thousands of alerts sharing a
round-number threshold still add and remove in O(log n).

After every tick that does real work the book computes its **quiet band**
``[lo, hi]``: the closed range of prices such that any sequence of accepted ticks
staying inside it, before time ``next_event``, fires nothing and changes no alert
state. A tick inside the band costs two float comparisons.
"""

from __future__ import annotations

import heapq
import math
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from cryptoalerts.model import Alert

__all__ = ["Book", "Family", "PctGroup", "Runtime", "flatten"]

_INF = math.inf
_next_up = math.nextafter
_LOAD = 512  # keys per chunk; a chunk splits at twice this (docs/implementation.md)


def below(x: float) -> float:
    """The largest double < x."""
    return _next_up(x, -_INF)


def above(x: float) -> float:
    """The smallest double > x."""
    return _next_up(x, _INF)


class Family:
    """Alerts keyed by one float: unique keys in sorted chunks, a bucket per key.

    The layout is sortedcontainers' (a list of sorted chunks and each chunk's
    maximum), with the buckets in parallel chunks. A bucket is the alert itself
    while it is alone under its key (most keys) and a ``{alert_id: Alert}`` dict
    once several share it, so removal from a crowded round-number threshold stays
    O(log n). There is no dict keyed by the floats: on a big family each look-up in
    one was a random access into a large table (docs/implementation.md).

    Positions are ``(chunk, offset)`` pairs; a range is taken out of the chunks with
    slice deletions, so a tick that fires a thousand alerts under consecutive keys
    removes them in a few C-level steps.
    """

    __slots__ = ("keys", "maxes", "vals")

    def __init__(self) -> None:
        self.keys: list[list[float]] = []
        self.vals: list[list[Alert | dict[str, Alert]]] = []
        self.maxes: list[float] = []  # the last key of each chunk; empty iff the family is

    def __bool__(self) -> bool:
        return bool(self.maxes)

    def add(self, key: float, alert: Alert) -> None:
        """O(log n) (plus a memmove of at most 2 x _LOAD pointers)."""
        maxes = self.maxes
        if not maxes:
            self.keys.append([key])
            self.vals.append([alert])
            maxes.append(key)
            return
        i = bisect_left(maxes, key)
        if i == len(maxes):
            i -= 1
        ks = self.keys[i]
        vs = self.vals[i]
        j = bisect_left(ks, key)
        if j < len(ks) and ks[j] == key:
            bucket = vs[j]
            if type(bucket) is dict:
                bucket[alert.id] = alert
            else:
                vs[j] = {bucket.id: bucket, alert.id: alert}  # type: ignore[union-attr,dict-item]
            return
        ks.insert(j, key)
        vs.insert(j, alert)
        if j == len(ks) - 1:
            maxes[i] = key
        if len(ks) > 2 * _LOAD:
            self.keys.insert(i + 1, ks[_LOAD:])
            self.vals.insert(i + 1, vs[_LOAD:])
            del ks[_LOAD:]
            del vs[_LOAD:]
            maxes.insert(i, ks[-1])

    def discard(self, key: float, alert_id: str) -> None:
        """Remove one alert from under ``key`` if it is there. O(log n)."""
        maxes = self.maxes
        i = bisect_left(maxes, key)
        if i == len(maxes):
            return
        ks = self.keys[i]
        j = bisect_left(ks, key)
        if ks[j] != key:
            return
        vs = self.vals[i]
        bucket = vs[j]
        if type(bucket) is dict:
            if bucket.pop(alert_id, None) is not None and len(bucket) == 1:
                vs[j] = next(iter(bucket.values()))
            return
        if bucket.id != alert_id:  # type: ignore[union-attr]
            return
        del ks[j]
        del vs[j]
        if not ks:
            del self.keys[i]
            del self.vals[i]
            del maxes[i]
        elif j == len(ks):
            maxes[i] = ks[-1]

    # -- positions and ranges -------------------------------------------------
    def _pos(self, x: float, after: bool) -> tuple[int, int]:
        """Position of the first key > x (``after``) or >= x; ``(len(chunks), 0)`` if none."""
        maxes = self.maxes
        search = bisect_right if after else bisect_left
        i = search(maxes, x)
        if i == len(maxes):
            return i, 0
        return i, search(self.keys[i], x)

    def _slice(self, i1: int, j1: int, i2: int, j2: int) -> list[Alert | dict[str, Alert]]:
        """Buckets from position (i1, j1) up to (i2, j2), exclusive."""
        vals = self.vals
        if i1 == i2:
            return vals[i1][j1:j2] if i1 < len(vals) else []
        out = vals[i1][j1:]
        for vs in vals[i1 + 1 : i2]:
            out += vs
        if i2 < len(vals):
            out += vals[i2][:j2]
        return out

    def _pop(self, i1: int, j1: int, i2: int, j2: int) -> list[Alert | dict[str, Alert]]:
        """Remove and return the buckets from position (i1, j1) up to (i2, j2), exclusive."""
        keys = self.keys
        vals = self.vals
        maxes = self.maxes
        if (i1, j1) >= (i2, j2):
            return []
        if i1 == i2:
            vs = vals[i1]
            out = vs[j1:j2]
            del vs[j1:j2]
            ks = keys[i1]
            del ks[j1:j2]
            if not ks:
                del keys[i1], vals[i1], maxes[i1]
            else:
                maxes[i1] = ks[-1]
            return out
        out = vals[i1][j1:]
        for vs in vals[i1 + 1 : i2]:
            out += vs
        lo = i1 + 1  # whole chunks lo..hi-1 go
        hi = i2
        if i2 < len(vals):
            out += vals[i2][:j2]
            del vals[i2][:j2]
            del keys[i2][:j2]  # its maximum stays
        if j1 == 0:
            lo = i1
        else:
            del vals[i1][j1:]
            del keys[i1][j1:]
            maxes[i1] = keys[i1][-1]
        del keys[lo:hi], vals[lo:hi], maxes[lo:hi]
        return out

    def between(self, lo: float, hi: float, lo_open: bool, hi_open: bool) -> list[Alert | dict[str, Alert]]:
        """Buckets with keys in the range from ``lo`` to ``hi`` (open or closed ends), in key order."""
        i1, j1 = self._pos(lo, lo_open)
        i2, j2 = self._pos(hi, not hi_open)
        if (i1, j1) >= (i2, j2):
            return []
        return self._slice(i1, j1, i2, j2)

    def take_below(self, x: float, inclusive: bool) -> list[Alert | dict[str, Alert]]:
        """Remove and return the buckets with keys < x (<= x if ``inclusive``)."""
        if not self.maxes or self.keys[0][0] > x or (self.keys[0][0] == x and not inclusive):
            return []
        i, j = self._pos(x, inclusive)
        return self._pop(0, 0, i, j)

    def take_above(self, x: float, inclusive: bool) -> list[Alert | dict[str, Alert]]:
        """Remove and return the buckets with keys > x (>= x if ``inclusive``)."""
        maxes = self.maxes
        if not maxes or maxes[-1] < x or (maxes[-1] == x and not inclusive):
            return []
        i, j = self._pos(x, not inclusive)
        return self._pop(i, j, len(maxes), 0)

    def take_first(self, n: int) -> list[Alert | dict[str, Alert]]:
        """Remove and return the buckets of the ``n`` smallest keys."""
        if n <= 0:
            return []
        i = 0
        for ks in self.keys:
            if n < len(ks):
                return self._pop(0, 0, i, n)
            n -= len(ks)
            i += 1
        return self._pop(0, 0, i, 0)

    def take_last(self, n: int) -> list[Alert | dict[str, Alert]]:
        """Remove and return the buckets of the ``n`` largest keys."""
        if n <= 0:
            return []
        keys = self.keys
        i = len(keys)
        while i > 0 and n > len(keys[i - 1]):
            i -= 1
            n -= len(keys[i])
        if i == 0:
            return self._pop(0, 0, len(keys), 0)
        return self._pop(i - 1, len(keys[i - 1]) - n, len(keys), 0)

    def first(self) -> float:
        """Smallest key; the family must not be empty."""
        return self.keys[0][0]

    def last(self) -> float:
        """Largest key; the family must not be empty."""
        return self.maxes[-1]

    def around(self, p: float, closed_below: bool) -> tuple[float | None, float | None]:
        """The nearest keys on each side of ``p``, O(log n).

        ``closed_below``: ``(max{k <= p}, min{k > p})``; otherwise
        ``(max{k < p}, min{k >= p})``. ``None`` where there is no such key.
        """
        maxes = self.maxes
        if not maxes:
            return None, None
        search = bisect_right if closed_below else bisect_left
        keys = self.keys
        i = search(maxes, p)
        if i == len(maxes):
            return maxes[-1], None
        sub = keys[i]
        j = search(sub, p)
        if j:
            return sub[j - 1], sub[j]
        return (maxes[i - 1] if i else None), sub[j]

    def alerts(self) -> Iterator[Alert]:
        for vs in self.vals:
            yield from flatten(vs)

    def flat_keys(self) -> list[float]:
        return [k for ks in self.keys for k in ks]

    def items(self) -> Iterator[tuple[float, Alert | dict[str, Alert]]]:
        """(key, bucket) pairs in key order."""
        for ks, vs in zip(self.keys, self.vals, strict=True):
            yield from zip(ks, vs, strict=True)

    def get(self, key: float) -> Alert | dict[str, Alert] | None:
        """The bucket under ``key``, or None. O(log n)."""
        i, j = self._pos(key, False)
        if i < len(self.maxes) and self.keys[i][j] == key:
            return self.vals[i][j]
        return None

    def load_sorted(self, keys: np.ndarray[Any, Any], buckets: np.ndarray[Any, Any], at: np.ndarray[Any, Any]) -> None:
        """Bulk load unique keys in ascending order with the buckets ``buckets[at]``; the family must be empty.

        numpy arrays (float64 keys, object buckets), so each chunk is one gather and
        one ``tolist`` in C, and its alerts are touched twice while still in cache.
        """
        n = len(keys)
        load = _LOAD
        if n == 0:
            return
        if n <= load:  # most families of a big build: one chunk, without the comprehensions
            self.keys = [keys.tolist()]
            self.vals = [buckets[at].tolist()]
        else:
            self.keys = [keys[i : i + load].tolist() for i in range(0, n, load)]
            self.vals = [buckets[at[i : i + load]].tolist() for i in range(0, n, load)]
        self.maxes = [ks[-1] for ks in self.keys]


def flatten(buckets: Iterable[Alert | dict[str, Alert]]) -> list[Alert]:
    """The alerts in a run of buckets, in key order."""
    out: list[Alert] = []
    for bucket in buckets:
        if type(bucket) is dict:
            out.extend(bucket.values())
        else:
            out.append(bucket)  # type: ignore[arg-type]
    return out


class PctGroup:
    """Percentage-move alerts of one symbol sharing one ``window_s``.

    The window's minimum and maximum are read from the symbol's tick history
    (and its block summaries) on the slow path only, so quiet ticks never pay for them.
    """

    __slots__ = ("da", "dd", "hi", "lo", "next_event", "ua", "ud", "w")

    def __init__(self, w: float) -> None:
        self.w = w
        # This group's own quiet band and next event (index._pct_band); empty until
        # computed, and emptied whenever an alert joins or leaves this group (Book.invalidate_share).
        self.lo = _INF
        self.hi = -_INF
        self.next_event = _INF
        self.ua = Family()  # moves_up_pct, armed, keyed by pct
        self.ud = Family()  # moves_up_pct, disarmed (rearm only)
        self.da = Family()  # moves_down_pct, armed
        self.dd = Family()  # moves_down_pct, disarmed

    def __bool__(self) -> bool:
        return bool(self.ua.maxes or self.ud.maxes or self.da.maxes or self.dd.maxes)


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
        "blk_first", "blk_hi", "blk_lo", "cd", "cu", "ehi", "el", "elo", "eu", "heap", "hi", "hist_base", "hist_p",
        "hist_ts",
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
        # Likewise the event families' share (crossings, channels): it depends on the
        # nearest keys around the price only, so it stays valid while the price stays
        # inside it and no alert joins or leaves those families.
        self.elo = _INF
        self.ehi = -_INF
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
        # Tick history as packed doubles: a window's extremes are then read from
        # contiguous memory, not from float objects scattered over the heap
        # (docs/implementation.md: "History as packed doubles").
        self.hist_ts: array[float] = array("d")
        self.hist_p: array[float] = array("d")
        self.hist_base = 0  # absolute position of hist_*[0] (trimming moves it on)
        # min/max of whole blocks of history positions, for window extremes (index._summarise)
        self.blk_lo: array[float] = array("d")
        self.blk_hi: array[float] = array("d")
        self.blk_first = 0  # absolute block number of blk_lo[0]
        self.trim_at = 0  # history length that triggers the next trim (index._trim sets it)

    def invalidate(self) -> None:
        """Force the next accepted tick onto the slow path, every share of the band recomputed.

        For changes to many alerts at once (a bulk load) or to the tick state (a
        restore); one alert joining or leaving uses :meth:`invalidate_share`.
        """
        self.lo = _INF
        self.hi = -_INF
        self.elo = _INF
        self.ehi = -_INF
        self.plo = _INF
        self.phi = -_INF
        for group in self.pct.values():
            group.lo = _INF
            group.hi = -_INF

    def invalidate_share(self, event: bool, window: float | None) -> None:
        """Force the next accepted tick onto the slow path after an alert joined or left.

        Only the share of the band that the alert's families make is emptied: the
        event families' (``event``) or its percentage group's (``window``). The
        level families' share is recomputed on every slow tick anyway. A cooldown
        ending re-places one alert; emptying every share made that tick recompute
        all of the symbol's percentage windows (the demo: 41 µs a tick).
        """
        self.lo = _INF
        self.hi = -_INF
        if event:
            self.elo = _INF
            self.ehi = -_INF
        if window is not None:
            self.plo = _INF
            self.phi = -_INF
            group = self.pct.get(window)
            if group is not None:
                group.lo = _INF
                group.hi = -_INF

    def reset_blocks(self) -> None:
        """Forget the block summaries (the history was replaced)."""
        self.hist_base = 0
        self.blk_lo = array("d")
        self.blk_hi = array("d")
        self.blk_first = 0

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
