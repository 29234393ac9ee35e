"""The sorted, per-symbol alert index (see ``docs/implementation.md``)."""

from __future__ import annotations

import gc
import heapq
import itertools
import math
import operator
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import partial
from typing import Any

import numpy as np

from cryptoalerts import _bulk
from cryptoalerts._book import Book, Family, PctGroup, Runtime, above, below, flatten
from cryptoalerts.errors import AlertNotFoundError, DuplicateAlertError, ValidationError
from cryptoalerts.model import Alert, Condition, Fired, Tick, Trigger, fired_from, pct_down_holds, pct_up_holds
from cryptoalerts.state import AlertState, IndexState, SymbolState, TickCounts

__all__ = ["AlertIndex"]

_INF = math.inf
_A = Condition.ABOVE
_B = Condition.BELOW
_CU = Condition.CROSSES_UP
_CD = Condition.CROSSES_DOWN
_CX = Condition.CROSSES
_EN = Condition.ENTERS_CHANNEL
_EX = Condition.EXITS_CHANNEL
_MU = Condition.MOVES_UP_PCT
_MD = Condition.MOVES_DOWN_PCT
_LEVEL = frozenset({_A, _B, _MU, _MD})
_ONCE = Trigger.ONCE
DEFAULT_HISTORY_S = 3600.0
_FIRST_CHUNK = 16  # galloping scan of a one-symbol batch starts with this many ticks
_QUIET_RUN = 8  # quiet ticks in a row before a batch switches back to vectorised skipping
_MIN_VECTOR_RUN = 64  # fewer ticks per symbol than this: the per-tick loop is faster
_MIN_TICKS_PER_SYMBOL = 4  # a mixed batch thinner than this goes through the per-tick loop
_by_alert_id = operator.attrgetter("alert_id")
_first = operator.itemgetter(0)
_lo = operator.attrgetter("lo")
_hi = operator.attrgetter("hi")
_next_event = operator.attrgetter("next_event")
_last_ts = operator.attrgetter("last_ts")
_FRESH = AlertState()
_LOW = 1 - 4e-12  # relative margins that keep the quiet band clear of percentage boundaries
_HIGH = 1 + 4e-12


_BLOCK = 16  # history positions per summarised block (window min/max)
_TRIM_SLACK = 4096  # ticks a history may grow past its last trim: trimming is amortised O(1) per tick
_EXPORT_SLACK = 64  # ... and past which an export trims it first: a stored state stays small


def _summarise(book: Book) -> None:
    """Bring the per-block minima and maxima of the history up to date.

    Blocks cover absolute positions ``[b * _BLOCK, (b + 1) * _BLOCK)``; only blocks
    entirely inside the history are summarised, lazily, on the slow path, so the
    work is amortised O(1) per tick and quiet ticks never pay for it.
    """
    hist_p = book.hist_p
    base = book.hist_base
    first_whole = -(-base // _BLOCK)
    if book.blk_first < first_whole:  # trimming cut into the oldest blocks
        drop = first_whole - book.blk_first
        del book.blk_lo[:drop], book.blk_hi[:drop]
        book.blk_first = first_whole
    b = book.blk_first + len(book.blk_lo)
    full = (base + len(hist_p)) // _BLOCK
    if b < full:
        # numpy over a copy of the new blocks (a view would pin the array's size): ~1 µs
        # per block less than min/max per slice once two or more are due (W1: ~7 a call)
        blocks = np.frombuffer(hist_p[b * _BLOCK - base : full * _BLOCK - base], np.float64).reshape(-1, _BLOCK)
        book.blk_lo.frombytes(blocks.min(axis=1).tobytes())
        book.blk_hi.frombytes(blocks.max(axis=1).tobytes())


def _window_extremes(book: Book, start_ts: float) -> tuple[float, float]:
    """(min, max) of the prices of the ticks with ts >= start_ts.

    O(_BLOCK + window / _BLOCK): the partial blocks at both ends are scanned, the
    whole blocks between are read from their summaries (``_summarise``).
    """
    hist_p = book.hist_p
    base = book.hist_base
    i = bisect_left(book.hist_ts, start_ts)
    b1 = -(-(base + i) // _BLOCK)  # the window's first whole block
    b2 = (base + len(hist_p)) // _BLOCK  # one past its last whole block
    if b2 - b1 < 2:  # a short window: scan it
        window = hist_p[i:]
        return min(window), max(window)
    _summarise(book)
    head = hist_p[i : b1 * _BLOCK - base]
    tail = hist_p[b2 * _BLOCK - base :]
    k1 = b1 - book.blk_first
    k2 = b2 - book.blk_first
    lo = min(book.blk_lo[k1:k2])
    hi = max(book.blk_hi[k1:k2])
    if head:
        lo = min(lo, min(head))
        hi = max(hi, max(head))
    if tail:
        lo = min(lo, min(tail))
        hi = max(hi, max(tail))
    return lo, hi


def _last_reach(book: Book, start_ts: float, x: float, low: bool) -> float:
    """The time of the latest tick since ``start_ts`` priced <= x (``low``) or >= x; one must exist.

    Walks back from the newest tick, skipping whole summarised blocks whose
    minimum (maximum) shows that no tick in them qualifies.
    """
    hist_p = book.hist_p
    i = bisect_left(book.hist_ts, start_ts)
    _summarise(book)
    summary = book.blk_lo if low else book.blk_hi
    base = book.hist_base
    first = book.blk_first
    q = len(hist_p) - 1
    while q >= i:
        a = base + q
        # q ends a whole block inside the window: summarised (blocks up to the newest whole one are)
        if a % _BLOCK == _BLOCK - 1 and q - (_BLOCK - 1) >= i:
            v = summary[a // _BLOCK - first]
            if (v > x) if low else (v < x):
                q -= _BLOCK
                continue
        v = hist_p[q]
        if (v <= x) if low else (v >= x):
            return book.hist_ts[q]
        q -= 1
    raise AssertionError(f"no tick since {start_ts} reaches {x}")  # callers pass x within the window's range


def _leaves_window(t: float, w: float) -> float:
    """The last time before a tick at ``t`` leaves a window of ``w`` s (a margin below ``t + w``)."""
    return t + w - ((abs(t) + w) * 4e-16 + 1e-9)


def _pct_band(
    book: Book, group: PctGroup, p: float, start_ts: float, m: float, mx: float
) -> tuple[float, float, float]:
    """One percentage group's quiet band ``(lo, hi, next_event)`` around price ``p``.

    ``m``/``mx`` are the extremes of the window (ticks since ``start_ts``) at
    this tick. Percentage bounds are decided exactly on the slow path; the band
    keeps a relative margin so it never claims a tie (see ``model.pct_up_holds``).
    """
    w = group.w
    lo = -_INF
    hi = _INF
    next_event = _INF
    if group.ua.maxes:
        # Fires iff price >= (1+p0/100) * (future window min). New ticks stay >= floor
        # and old ones are >= m, so that min is >= floor: half the way to the
        # threshold is given to a fall, half to a rise.
        p0 = group.ua.first()
        floor = min(m, p / (1 + p0 / 200))
        lo = max(lo, floor)
        hi = min(hi, (1 + p0 / 100) * floor * _LOW)
    if group.ud.maxes:
        # Re-arms iff price < (1+p1/100) * (window min). The min stays <= x while the
        # latest tick priced <= x is in the window, and x is halfway from m to where
        # this price would re-arm: a rising min (old lows leaving) is then a slow
        # tick only once it has risen that far, not each time the lowest tick leaves.
        f = 1 + group.ud.last() / 100
        x = max(m, (m + p / f) / 2)
        lo = max(lo, f * x * _HIGH)
        next_event = min(next_event, _leaves_window(_last_reach(book, start_ts, x, True), w))
    if group.da.maxes:
        p0 = group.da.first()
        ceiling = max(mx, p * (1 + p0 / 200))
        hi = min(hi, ceiling)
        lo = max(lo, (1 - p0 / 100) * ceiling * _HIGH)
    if group.dd.maxes:  # re-arms iff price > (1-p1/100) * (window max): the mirror image
        g = 1 - group.dd.last() / 100
        y = min(mx, (mx + p / g) / 2)
        hi = min(hi, g * y * _LOW)
        next_event = min(next_event, _leaves_window(_last_reach(book, start_ts, y, False), w))
    return lo, hi, next_event


def _needed_history(book: Book, cutoff: float) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The ticks since ``cutoff`` that a later window's minimum or maximum can still be (copies).

    Windows always end at the latest tick, so a tick with a later one at a price at
    most as low can never be a window's minimum (nor the last occurrence of it),
    and likewise for maxima. What is left are the two monotone stacks of the
    history: for a random walk of n ticks about 2 sqrt(n), so a busy symbol's
    history stays small in memory and in a store (117 of 3,600 ticks measured),
    and matching goes on exactly as with the full history.
    """
    start = bisect_left(book.hist_ts, cutoff)
    ts = np.frombuffer(book.hist_ts, np.float64)[start:]
    p = np.frombuffer(book.hist_p, np.float64)[start:]
    if p.size == 0:
        return ts.copy(), p.copy()
    later_min = np.empty_like(p)  # min of the prices after each tick (inf after the last)
    later_max = np.empty_like(p)
    later_min[-1] = _INF
    later_max[-1] = -_INF
    np.minimum.accumulate(p[:0:-1], out=later_min[-2::-1])
    np.maximum.accumulate(p[:0:-1], out=later_max[-2::-1])
    keep = (p < later_min) | (p > later_max)
    return ts[keep], p[keep]


def _event_band(book: Book, p: float) -> tuple[float, float]:
    """The crossing and channel families' quiet band around price ``p``."""
    lo = -_INF
    hi = _INF
    # Families that fire when a move passes a key upward (prev < k <= price) or
    # downward through an open end: no key may lie in (lo, hi].
    for fam in (book.cu, book.el, book.xl):
        if fam.maxes:
            k_lo, k_hi = fam.around(p, True)
            if k_lo is not None:
                lo = max(lo, k_lo)
            if k_hi is not None:
                hi = min(hi, below(k_hi))
    # ... and those with the open end the other way: no key in [lo, hi).
    for fam in (book.cd, book.eu, book.xu):
        if fam.maxes:
            k_lo, k_hi = fam.around(p, False)
            if k_lo is not None:
                lo = max(lo, above(k_lo))
            if k_hi is not None:
                hi = min(hi, k_hi)
    return lo, hi


def _check_names(symbols: Iterable[object]) -> None:
    """Raise for the first batch symbol that is not a non-empty string."""
    for sym in symbols:
        if not isinstance(sym, str) or not sym:
            raise ValidationError("symbols", sym, "must be non-empty strings")


def _distinct(symbols: list[str]) -> dict[str, None]:
    """The batch's symbols in order of first appearance; an unhashable one is a ValidationError."""
    try:
        return dict.fromkeys(symbols)
    except TypeError:
        _check_names(symbols)  # names the first symbol that is not a string
        raise


def _holding_prefix(fam: Family, holds: Callable[[float], bool]) -> int:
    """How many leading keys ``holds`` is true for (it is monotone: true, then false)."""
    n = 0
    for ks in fam.keys:
        for key in ks:
            if not holds(key):
                return n
            n += 1
    return n


def _failing_suffix(fam: Family, holds: Callable[[float], bool]) -> int:
    """How many trailing keys ``holds`` is false for (it is monotone: true, then false)."""
    n = 0
    for ks in reversed(fam.keys):
        for key in reversed(ks):
            if holds(key):
                return n
            n += 1
    return n


def _slots(book: Book, alert: Alert, armed: bool, create: bool = False) -> list[tuple[Family, float]]:
    """The (family, key) places an alert occupies in ``book`` when armed or not."""
    c = alert.condition
    if c is _A:
        return [(book.above_a if armed else book.above_d, alert.threshold)]  # type: ignore[list-item]
    if c is _B:
        return [(book.below_a if armed else book.below_d, alert.threshold)]  # type: ignore[list-item]
    if c is _CU:
        return [(book.cu, alert.threshold)]  # type: ignore[list-item]
    if c is _CD:
        return [(book.cd, alert.threshold)]  # type: ignore[list-item]
    if c is _CX:
        return [(book.cu, alert.threshold), (book.cd, alert.threshold)]  # type: ignore[list-item]
    if c is _EN:
        return [(book.el, alert.lower), (book.eu, alert.upper)]  # type: ignore[list-item]
    if c is _EX:
        return [(book.xl, alert.lower), (book.xu, alert.upper)]  # type: ignore[list-item]
    w: float = alert.window_s  # type: ignore[assignment]
    group = book.pct.get(w)
    if group is None:
        if not create:
            return []
        group = book.pct[w] = PctGroup(w)
    if c is _MU:
        return [(group.ua if armed else group.ud, alert.pct)]  # type: ignore[list-item]
    return [(group.da if armed else group.dd, alert.pct)]  # type: ignore[list-item]


class AlertIndex:
    """Alerts indexed per symbol in sorted families; matches a tick in O(log n + k).

    >>> index = AlertIndex()
    >>> index.add(Alert(id="a1", symbol="BTC", condition="crosses_up", threshold=100))
    >>> index.match(Tick("BTC", 99, 1)), [f.alert_id for f in index.match(Tick("BTC", 100, 2))]
    ([], ['a1'])

    ``history_s`` bounds how far back percentage-move windows can look: the index
    keeps each symbol's accepted ticks of the last ``history_s`` seconds, and
    rejects alerts with a longer ``window_s``.
    """

    # Batch tunables (see docs/implementation.md); tests lower them to force every path.
    _min_vector_run = _MIN_VECTOR_RUN
    _quiet_run = _QUIET_RUN
    _min_mixed_run = _MIN_TICKS_PER_SYMBOL

    def __init__(self, alerts: Iterable[Alert] = (), *, history_s: float = DEFAULT_HISTORY_S) -> None:
        if not (history_s > 0 and math.isfinite(history_s)):
            raise ValidationError("history_s", history_s, "must be a finite number > 0")
        self.history_s = float(history_s)
        self._books: dict[str, Book] = {}
        self._alerts: dict[str, Alert] = {}
        self._rt: dict[str, Runtime] = {}
        self._once_seq: dict[str, int] = {}  # only for once alerts re-created with a past seq
        self._expiry: list[tuple[float, str]] = []
        self._tokens = itertools.count(1)
        self.counts = TickCounts()
        # When a list, matching appends the id of each alert it re-arms without firing
        # (a state change the caller cannot see in the fires); the engine persists those.
        self.rearm_log: list[str] | None = None
        self.add_many(alerts)

    @classmethod
    def from_alerts(cls, alerts: Iterable[Alert], *, history_s: float = DEFAULT_HISTORY_S) -> AlertIndex:
        """Bulk-build an index; sorts each family once instead of n inserts."""
        return cls(alerts, history_s=history_s)

    # -- alerts ---------------------------------------------------------------
    def _book(self, symbol: str) -> Book:
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = Book(symbol)
        return book

    def _check_window(self, alert: Alert) -> None:
        if alert.window_s is not None and alert.window_s > self.history_s:
            raise ValidationError(
                "window_s", alert.window_s, f"exceeds the index's history_s={self.history_s}; raise history_s"
            )

    def add(self, alert: Alert, state: AlertState | None = None) -> None:
        """Add an alert, optionally with its firing state. O(log n).

        >>> index = AlertIndex()
        >>> index.add(Alert(id="a", symbol="BTC", condition="below", threshold=60_000))
        >>> len(index), "a" in index
        (1, True)

        Raises:
            DuplicateAlertError: an alert with that id is already indexed.
            ValidationError: ``window_s`` exceeds ``history_s``.
        """
        if alert.id in self._alerts:
            raise DuplicateAlertError(alert.id)
        self._check_window(alert)
        if alert.trigger is _ONCE and state is not None:
            if state.last_fire_ts is not None:
                return  # a once alert that already fired never comes back
            if state.seq:
                self._once_seq[alert.id] = state.seq  # a re-created id goes on counting
        self._alerts[alert.id] = alert
        armed = True
        if alert.trigger is not _ONCE and state is not None and state != _FRESH:
            rt = self._rt[alert.id] = Runtime(
                state.armed or alert.condition not in _LEVEL, state.last_fire_ts, state.seq
            )
            armed = rt.armed
        book = self._book(alert.symbol)
        for fam, key in _slots(book, alert, armed, create=True):
            fam.add(key, alert)
        if alert.expires_at is not None:
            heapq.heappush(self._expiry, (alert.expires_at, alert.id))
        book.invalidate_share(alert.condition not in _LEVEL, alert.window_s)

    def add_many(self, alerts: Iterable[Alert]) -> None:
        """Add many alerts, sorting each family once: O(n log n), mostly in C (see ``_bulk``).

        Raises:
            DuplicateAlertError: an id repeats or is already indexed; nothing is added.
            ValidationError: a ``window_s`` exceeds ``history_s``; nothing is added.
        """
        batch = alerts if type(alerts) is list else list(alerts)  # a list is only read: no copy
        if not batch:
            return
        paused = gc.isenabled()
        if paused:
            gc.disable()  # millions of new objects would trigger full collections over the index
        try:
            placing = _bulk.Batch(batch)
            # One dict, built once: it finds repeated ids (it comes out shorter) and becomes _alerts.
            by_id = dict(zip(map(operator.attrgetter("id"), batch), batch, strict=True))
            if len(by_id) != len(batch) or (self._alerts and not by_id.keys().isdisjoint(self._alerts.keys())):
                seen: set[str] = set()
                for alert in batch:
                    if alert.id in seen or alert.id in self._alerts:
                        raise DuplicateAlertError(alert.id)
                    seen.add(alert.id)
            too_long = placing.too_long_window(self.history_s)
            if too_long is not None:
                self._check_window(too_long)
            expires = list(map(operator.attrgetter("expires_at"), batch))
            placing.place(self._book)
            if expires.count(None) != len(expires):
                self._expiry += [(e, a.id) for e, a in zip(expires, batch, strict=True) if e is not None]
                heapq.heapify(self._expiry)
            if self._alerts:
                self._alerts.update(by_id)
            else:
                self._alerts = by_id
        finally:
            if paused:
                gc.enable()

    def remove(self, alert_id: str) -> Alert:
        """Remove and return an alert. O(log n).

        >>> index = AlertIndex([Alert(id="a", symbol="BTC", condition="above", threshold=1)])
        >>> index.remove("a").id, len(index)
        ('a', 0)
        >>> index.remove("a")
        Traceback (most recent call last):
        cryptoalerts.errors.AlertNotFoundError: no alert with id 'a'

        Raises:
            AlertNotFoundError: no such alert (a ``KeyError``).
        """
        alert = self._alerts.pop(alert_id, None)
        if alert is None:
            raise AlertNotFoundError(alert_id)
        book = self._books[alert.symbol]
        rt = self._rt.pop(alert_id, None)
        self._once_seq.pop(alert_id, None)
        if rt is not None and rt.parked:
            del book.parked[alert_id]  # its heap entry is skipped when it surfaces
        else:
            for fam, key in _slots(book, alert, rt is None or rt.armed):
                fam.discard(key, alert_id)
        book.invalidate_share(alert.condition not in _LEVEL, alert.window_s)
        return alert

    def discard(self, alert_id: str) -> None:
        """Remove an alert if present; silent otherwise. O(log n).

        >>> AlertIndex().discard("missing")  # no error
        """
        if alert_id in self._alerts:
            self.remove(alert_id)

    def get(self, alert_id: str) -> Alert | None:
        """The alert with that id, or None. O(1)."""
        return self._alerts.get(alert_id)

    def alert_state(self, alert_id: str) -> AlertState:
        """The alert's firing state. O(1). Raises ``AlertNotFoundError``."""
        if alert_id not in self._alerts:
            raise AlertNotFoundError(alert_id)
        rt = self._rt.get(alert_id)
        if rt is None:
            return AlertState(seq=self._once_seq.get(alert_id, 0))
        return AlertState(rt.armed, rt.last_fire, rt.seq)

    def __len__(self) -> int:
        return len(self._alerts)

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._alerts

    def alerts(self, symbol: str | None = None) -> list[Alert]:
        """Indexed alerts, all or one symbol's. O(n) / O(n_symbol)."""
        if symbol is None:
            return list(self._alerts.values())
        book = self._books.get(symbol)
        if book is None:
            return []
        seen: dict[str, Alert] = dict(book.parked)
        for fam in book.families():
            for alert in fam.alerts():
                seen[alert.id] = alert
        return list(seen.values())

    def symbols(self) -> list[str]:
        """Symbols the index has alerts or tick state for."""
        return list(self._books)

    def purge_expired(self, now: float) -> int:
        """Remove alerts with ``expires_at <= now``; returns how many. O(k log n).

        >>> index = AlertIndex([Alert(id="a", symbol="S", condition="above", threshold=1, expires_at=10)])
        >>> index.purge_expired(9), index.purge_expired(10), len(index)
        (0, 1, 0)
        """
        expiry = self._expiry
        alerts = self._alerts
        removed = 0
        while expiry and expiry[0][0] <= now:
            expires_at, alert_id = heapq.heappop(expiry)
            alert = alerts.get(alert_id)
            if alert is not None and alert.expires_at == expires_at:
                self.remove(alert_id)
                removed += 1
        return removed

    # -- matching -------------------------------------------------------------
    def match(self, tick: Tick) -> list[Fired]:
        """Match one tick; returns its fires ordered by alert id.

        O(1) for a tick inside the symbol's quiet band (the common case: two float
        comparisons), else O(log n + k) per family with k the alerts that fire.
        Stale and duplicate ticks are counted in :attr:`counts` and fire nothing.
        """
        try:
            book = self._books[tick.symbol]
        except KeyError:
            book = self._book(tick.symbol)
        price = tick.price
        ts = tick.ts
        last_ts = book.last_ts
        if ts <= last_ts:
            if ts < last_ts:
                self.counts.stale += 1
                return []
            if price == book.last_price:
                self.counts.duplicate += 1
                return []
        if book.lo <= price <= book.hi and ts < book.next_event:
            self.counts.accepted += 1
            book.last_price = price
            book.last_ts = ts
            hist_ts = book.hist_ts
            hist_ts.append(ts)
            book.hist_p.append(price)
            if len(hist_ts) >= book.trim_at:
                self._trim(book, ts)
            return []
        self.counts.accepted += 1
        return self._slow(book, price, ts)

    def match_batch(
        self,
        symbols: Sequence[str] | str,
        prices: Sequence[float] | np.ndarray[Any, Any],
        timestamps: Sequence[float] | np.ndarray[Any, Any],
    ) -> list[Fired]:
        """Match many ticks; exactly the fires, in the same order, of ``match`` tick by tick.

        ``symbols`` is one symbol for the whole batch or one per tick. Ticks are
        grouped per symbol (symbols are independent), stale and duplicate ticks
        are found with cumulative maxima, and runs of ticks inside the quiet band
        are skipped with vectorised comparisons; only ticks that may fire go
        through the per-tick path.

        >>> index = AlertIndex([Alert(id="x", symbol="ETH", condition="crosses_up", threshold=3000)])
        >>> [(f.alert_id, f.ts) for f in index.match_batch("ETH", [2990.5, 3001.0, 3002.0], [1, 2, 3])]
        [('x', 2.0)]

        Raises:
            ValidationError: lengths differ, or a price is not finite and > 0, or
                a timestamp is not finite. Nothing is matched in that case.
        """
        p = np.ascontiguousarray(prices, dtype=np.float64)
        t = np.ascontiguousarray(timestamps, dtype=np.float64)
        n = p.shape[0]
        if p.ndim != 1 or t.shape != p.shape:
            raise ValidationError("timestamps", t.shape, f"must have the same length as prices ({p.shape})")
        if n == 0:
            return []
        small = n < self._min_vector_run
        if small:
            # A handful of ticks (a webhook's, one symbol's share of a stream) is the common
            # call: the same checks in plain Python, since numpy's per-call costs would be
            # most of its time.
            pl = p.tolist()
            tl = t.tolist()
            # In C first: a NaN or an infinity makes the sum so; the loops name the culprit.
            if not (min(pl) > 0.0 and math.isfinite(sum(pl))):
                for i, x in enumerate(pl):
                    if not 0.0 < x < _INF:
                        raise ValidationError(f"prices[{i}]", x, "must be finite and > 0")
            if not math.isfinite(sum(tl)):
                for i, x in enumerate(tl):
                    if not -_INF < x < _INF:
                        raise ValidationError(f"timestamps[{i}]", x, "must be finite")
        else:
            if not (np.isfinite(p).all() and (p > 0).all()):
                bad = int(np.flatnonzero(~(np.isfinite(p) & (p > 0)))[0])
                raise ValidationError(f"prices[{bad}]", float(p[bad]), "must be finite and > 0")
            if not np.isfinite(t).all():
                bad = int(np.flatnonzero(~np.isfinite(t))[0])
                raise ValidationError(f"timestamps[{bad}]", float(t[bad]), "must be finite")
        if isinstance(symbols, str):
            if not symbols:
                raise ValidationError("symbols", symbols, "must be non-empty strings")
            if small:
                return self._batch_loop(itertools.repeat(self._book(symbols), n), pl, tl)
            return [f for _, f in self._batch_symbol(symbols, p, t, None)]
        syms = symbols if isinstance(symbols, list) else list(symbols)
        if len(syms) != n:
            raise ValidationError("symbols", len(syms), f"must have the same length as prices ({n})")
        # Names are checked before any matching: the compiled build type-checks dict keys.
        distinct = self._checked_distinct(syms)
        if small:
            return self._batch_loop(self._books_of(distinct, syms), pl, tl)
        # Codes in order of first appearance, in two C-level passes over the symbols.
        codes = {s: i for i, s in enumerate(distinct)}
        code_arr = np.fromiter(map(codes.__getitem__, syms), dtype=np.int64, count=n)
        k = len(codes)
        if k == 1:
            return [f for _, f in self._batch_symbol(syms[0], p, t, None)]
        if n < self._min_mixed_run * k:
            # A few ticks per symbol: numpy's per-call cost would exceed the work,
            # so run the per-tick fast path over the batch in order.
            return self._batch_loop(self._books_of(distinct, syms), p.tolist(), t.tolist())
        return self._batch_mixed(list(codes), code_arr, p, t)

    def _checked_distinct(self, syms: list[str]) -> dict[str, None]:
        """The batch's symbols in order of first appearance, each checked to be a non-empty str."""
        distinct = _distinct(syms)
        if not distinct.keys() <= self._books.keys():  # known symbols were checked when they came
            _check_names(distinct)
        return distinct

    def _batch_mixed(
        self, names: list[str], code_arr: np.ndarray[Any, Any], p: np.ndarray[Any, Any], t: np.ndarray[Any, Any]
    ) -> list[Fired]:
        """Match a batch of many symbols: one vectorised pass finds, per symbol, the
        leading run of ticks that are newer than the one before and inside the
        symbol's quiet band; those only extend the history. Each symbol's ticks from
        its first other tick on go through the per-tick path, in order (symbols are
        independent, so this is the stream order as far as any alert can tell).
        """
        book_of = self._books.get
        books = [book_of(name) or self._book(name) for name in names]
        k = len(books)
        lo = np.fromiter(map(_lo, books), np.float64, k)
        hi = np.fromiter(map(_hi, books), np.float64, k)
        nxt = np.fromiter(map(_next_event, books), np.float64, k)
        last_ts = np.fromiter(map(_last_ts, books), np.float64, k)
        # Stable, so each symbol's ticks keep their order. Codes that fit 16 bits are
        # sorted by radix: ten times faster than a merge sort of int64 on 10,000 ticks.
        order = np.argsort(code_arr.astype(np.uint16) if k <= 1 << 16 else code_arr, kind="stable")
        sc = code_arr[order]
        sp = p[order]
        st = t[order]
        n = sc.shape[0]
        first = np.empty(n, dtype=bool)
        first[0] = True
        np.not_equal(sc[1:], sc[:-1], out=first[1:])
        starts = np.flatnonzero(first)
        prev_t = np.empty(n)
        prev_t[1:] = st[:-1]
        prev_t[starts] = last_ts[sc[starts]]
        quiet = (st > prev_t) & (lo[sc] <= sp) & (sp <= hi[sc]) & (st < nxt[sc])
        loud = np.flatnonzero(~quiet)
        ends = np.empty_like(starts)
        ends[:-1] = starts[1:]
        ends[-1] = n
        # first tick of each symbol that is not known to be quiet (its end if none)
        stop = np.minimum(np.append(loud, n)[np.searchsorted(loud, starts)], ends)
        run = stop > starts
        accepted = int((stop - starts).sum())
        # Leading quiet runs: they set the last price and extend the history. Byte
        # views of the sorted columns put a run into the history with array.frombytes,
        # without a numpy slice per symbol or a float object per tick.
        spb = sp.data.cast("B")
        stb = st.data.cast("B")
        rs = starts[run]
        rf = stop[run]
        trim = self._trim
        for code, a, b, price, ts in zip(
            sc[rs].tolist(), (8 * rs).tolist(), (8 * rf).tolist(), sp[rf - 1].tolist(), st[rf - 1].tolist(), strict=True
        ):
            book = books[code]
            book.last_price = price
            book.last_ts = ts
            hist_ts = book.hist_ts
            hist_ts.frombytes(stb[a:b])
            book.hist_p.frombytes(spb[a:b])
            if len(hist_ts) >= book.trim_at:
                trim(book, ts)
        # The rest of the ticks of symbols with a tick that may fire, one by one:
        # match's logic inlined, as in _batch_loop (a method call per tick would cost
        # more than the check itself).
        rest = stop < ends
        slow = self._slow
        tagged: list[tuple[int, Fired]] = []
        stale = duplicate = 0
        for code, f, e in zip(sc[stop[rest]].tolist(), stop[rest].tolist(), ends[rest].tolist(), strict=True):
            book = books[code]
            for i, price, ts in zip(range(f, e), sp[f:e].tolist(), st[f:e].tolist(), strict=True):
                last = book.last_ts
                if ts <= last:
                    if ts < last:
                        stale += 1
                        continue
                    if price == book.last_price:
                        duplicate += 1
                        continue
                accepted += 1
                if book.lo <= price <= book.hi and ts < book.next_event:
                    book.last_price = price
                    book.last_ts = ts
                    book.hist_ts.append(ts)
                    book.hist_p.append(price)
                    continue
                fires = slow(book, price, ts)
                if fires:
                    where = int(order[i])
                    tagged.extend((where, fired) for fired in fires)
            if len(book.hist_ts) >= book.trim_at:
                self._trim(book, book.last_ts)
        counts = self.counts
        counts.accepted += accepted
        counts.stale += stale
        counts.duplicate += duplicate
        if not tagged:
            return []
        tagged.sort(key=_first)  # stable: keeps each tick's fires in match order
        return [f for _, f in tagged]

    def _books_of(self, distinct: Iterable[str], syms: list[str]) -> Iterator[Book]:
        """The book of each tick's symbol; ``distinct`` (the symbols) get one first if new."""
        books = self._books
        for name in distinct:
            if name not in books:
                self._book(name)
        return map(books.__getitem__, syms)

    def _batch_loop(self, books: Iterable[Book], prices: list[float], timestamps: list[float]) -> list[Fired]:
        """``match`` over plain lists, given each tick's book, without ``Tick`` objects (same logic, inlined)."""
        counts = self.counts
        slow = self._slow
        out: list[Fired] = []
        accepted = stale = duplicate = 0
        for book, price, ts in zip(books, prices, timestamps, strict=True):
            last_ts = book.last_ts
            if ts <= last_ts:
                if ts < last_ts:
                    stale += 1
                    continue
                if price == book.last_price:
                    duplicate += 1
                    continue
            accepted += 1
            if book.lo <= price <= book.hi and ts < book.next_event:
                book.last_price = price
                book.last_ts = ts
                hist_ts = book.hist_ts
                hist_ts.append(ts)
                book.hist_p.append(price)
                if len(hist_ts) >= book.trim_at:
                    self._trim(book, ts)
                continue
            fires = slow(book, price, ts)
            if fires:
                out.extend(fires)
        counts.accepted += accepted
        counts.stale += stale
        counts.duplicate += duplicate
        return out

    def _batch_symbol(
        self, symbol: str, p: np.ndarray[Any, Any], t: np.ndarray[Any, Any], positions: np.ndarray[Any, Any] | None
    ) -> list[tuple[int, Fired]]:
        """Match one symbol's ticks (in order); fires tagged with the tick's batch position."""
        book = self._books.get(symbol)
        if book is None:
            book = self._book(symbol)
        n = p.shape[0]
        counts = self.counts
        # Stale: older than every earlier accepted tick, i.e. than the running max ts.
        prev_max = np.maximum.accumulate(np.concatenate(([book.last_ts], t[:-1])))
        fresh = t >= prev_max
        fresh_idx = np.flatnonzero(fresh)
        counts.stale += n - fresh_idx.shape[0]
        if fresh_idx.shape[0] == 0:
            return []
        # Duplicate: same ts and price as the previous fresh tick (or the book's last).
        fp = p[fresh_idx]
        ft = t[fresh_idx]
        last_price = -1.0 if book.last_price is None else book.last_price
        pp = np.concatenate(([last_price], fp[:-1]))
        pt = np.concatenate(([book.last_ts], ft[:-1]))
        dup = (ft == pt) & (fp == pp)
        acc = fresh_idx[~dup]
        counts.duplicate += int(dup.sum())
        m = acc.shape[0]
        if m == 0:
            return []
        ap = p[acc]
        at = t[acc]
        apl = ap.tolist()
        atl = at.tolist()
        out: list[tuple[int, Fired]] = []
        slow = self._slow
        quiet_run = self._quiet_run
        pos = 0
        while pos < m:
            # Scalar phase: tick by tick while ticks leave the band (a busy symbol), until
            # _QUIET_RUN quiet ticks in a row suggest a long quiet stretch ahead.
            quiet = 0
            while pos < m and quiet < quiet_run:
                price = apl[pos]
                ts = atl[pos]
                counts.accepted += 1
                if book.lo <= price <= book.hi and ts < book.next_event:
                    quiet += 1
                    book.last_price = price
                    book.last_ts = ts
                    book.hist_ts.append(ts)
                    book.hist_p.append(price)
                else:
                    quiet = 0
                    fires = slow(book, price, ts)
                    if fires:
                        where = int(acc[pos]) if positions is None else int(positions[acc[pos]])
                        out.extend((where, f) for f in fires)
                pos += 1
            if len(book.hist_ts) >= book.trim_at:
                self._trim(book, book.last_ts)
            # Vector phase: skip quiet runs in galloping chunks (16, 32, 64, ...) until
            # a tick leaves the band; the scalar phase then takes that tick.
            chunk = _FIRST_CHUNK
            while pos < m:
                end = min(m, pos + chunk)
                cp = ap[pos:end]
                ct = at[pos:end]
                hits = np.flatnonzero((cp < book.lo) | (cp > book.hi) | (ct >= book.next_event))
                stop = end if hits.shape[0] == 0 else pos + int(hits[0])
                if stop > pos:  # quiet ticks only move the last price and the history
                    counts.accepted += stop - pos
                    book.last_price = apl[stop - 1]
                    book.last_ts = atl[stop - 1]
                    book.hist_ts.frombytes(at[pos:stop].tobytes())
                    book.hist_p.frombytes(ap[pos:stop].tobytes())
                    if len(book.hist_ts) >= book.trim_at:
                        self._trim(book, book.last_ts)
                pos = stop
                if stop < end:
                    break
                chunk *= 2
        return out

    def _trim(self, book: Book, ts: float) -> None:
        """Keep only the history a later window can need: no tick older than ``history_s``
        before ``ts``, none that can no longer be a window's extreme (``_needed_history``).

        Runs once the history has grown by ``_TRIM_SLACK`` ticks: amortised O(1) per tick.
        The arrays are rewritten in place, so callers' references to them stay valid.
        """
        kept_ts, kept_p = _needed_history(book, ts - self.history_s)
        if kept_ts.shape[0] < len(book.hist_ts):
            book.hist_ts[:] = array("d", kept_ts.tobytes())
            book.hist_p[:] = array("d", kept_p.tobytes())
            book.reset_blocks()  # positions changed
        book.trim_at = len(book.hist_ts) + _TRIM_SLACK

    def _slow(self, book: Book, price: float, ts: float) -> list[Fired]:
        """Full matching of one accepted tick, then a fresh quiet band."""
        prev = book.last_price
        fires: list[Fired] = []
        rts = self._rt
        # Alerts whose cooldown is over rejoin their families before matching.
        heap = book.heap
        while heap and heap[0][0] <= ts:
            _, token, alert_id = heapq.heappop(heap)
            rt = rts.get(alert_id)
            if rt is not None and rt.parked == token:
                alert = book.parked.pop(alert_id)
                rt.parked = 0
                book.invalidate_share(alert.condition not in _LEVEL, alert.window_s)
                # create: its percentage group may have emptied and gone while it cooled down
                for fam, key in _slots(book, alert, True, create=True):
                    fam.add(key, alert)
        hist_ts = book.hist_ts
        hist_ts.append(ts)
        book.hist_p.append(price)
        if len(hist_ts) >= book.trim_at:  # as on the quiet path: trimming on every slow tick was O(history)
            self._trim(book, ts)
        fire = self._fire
        # Level conditions: fire the armed that hold, re-arm the disarmed that do not.
        # Their alerts sit in one family each, so the range is taken out in one step.
        fam = book.above_a
        if fam.maxes and fam.keys[0][0] <= price:
            self._fire_taken(book, fam.take_below(price, True), price, prev, ts, fires)
        fam = book.above_d
        if fam.maxes and fam.maxes[-1] > price:
            for alert in flatten(fam.take_above(price, False)):
                self._rearm(book, alert, ts)
        fam = book.below_a
        if fam.maxes and fam.maxes[-1] >= price:
            self._fire_taken(book, fam.take_above(price, True), price, prev, ts, fires)
        fam = book.below_d
        if fam.maxes and fam.keys[0][0] < price:
            for alert in flatten(fam.take_below(price, False)):
                self._rearm(book, alert, ts)
        if prev is not None and price != prev and not (book.elo <= price <= book.ehi):
            # Event conditions stay armed and channel alerts sit under two keys, so these
            # ranges are read, not taken. Skipped when the price stays inside the event
            # families' band: prev is inside it too, so no key lies between them.
            if price > prev:
                fam = book.cu  # crosses_up and crosses: prev < t <= price
                if fam.maxes:
                    for alert in flatten(fam.between(prev, price, True, False)):
                        fire(book, alert, price, prev, ts, fires)
                fam = book.el  # enters_channel passing its lower edge upward
                if fam.maxes:
                    for alert in flatten(fam.between(prev, price, True, False)):
                        if price <= alert.upper:  # type: ignore[operator]
                            fire(book, alert, price, prev, ts, fires)
                fam = book.xu  # exits_channel leaving above its upper edge
                if fam.maxes:
                    for alert in flatten(fam.between(prev, price, False, True)):
                        if prev >= alert.lower:  # type: ignore[operator]
                            fire(book, alert, price, prev, ts, fires)
            else:
                fam = book.cd  # crosses_down and crosses: prev > t >= price
                if fam.maxes:
                    for alert in flatten(fam.between(price, prev, False, True)):
                        fire(book, alert, price, prev, ts, fires)
                fam = book.eu  # enters_channel passing its upper edge downward
                if fam.maxes:
                    for alert in flatten(fam.between(price, prev, False, True)):
                        if price >= alert.lower:  # type: ignore[operator]
                            fire(book, alert, price, prev, ts, fires)
                fam = book.xl  # exits_channel leaving below its lower edge
                if fam.maxes:
                    for alert in flatten(fam.between(price, prev, True, False)):
                        if prev <= alert.upper:  # type: ignore[operator]
                            fire(book, alert, price, prev, ts, fires)
        if book.pct and not (book.plo <= price <= book.phi and ts < book.pnext):
            self._match_pct(book, price, prev, ts, fires)
        book.last_price = price
        book.last_ts = ts
        self._rebalance(book)
        if len(fires) > 1:
            fires.sort(key=_by_alert_id)  # canonical order, whatever the insertion history
        return fires

    def _match_pct(self, book: Book, price: float, prev: float | None, ts: float, fires: list[Fired]) -> None:
        """Match the percentage groups whose own band this tick left; recompute the share.

        Each group keeps its own band and next event (valid while every tick since
        stayed inside it), so only the groups this tick left are matched and
        recomputed. Recomputing all of them re-centres every band and so takes
        fewer slow ticks (9% fewer on W1), but costs a window scan per group: on the
        demo's rearm alerts over five windows per symbol, matching only the groups
        left took the index 1.6x less time, and W1 the same time (docs/performance.md).
        """
        plo = -_INF
        phi = _INF
        pnext = _INF
        for w, group in list(book.pct.items()):
            # A group still inside its own band has nothing that can fire or re-arm.
            if not (group.lo <= price <= group.hi and ts < group.next_event):
                if not group:
                    del book.pct[w]
                    continue
                ua = group.ua
                ud = group.ud
                da = group.da
                dd = group.dd
                start = ts - w
                lo, hi = _window_extremes(book, start)
                # Moves fire for a prefix of the pcts (sorted ascending) and fail for a suffix;
                # each family first tests its nearest key: usually there is nothing to do.
                if ua.maxes and pct_up_holds(price, ua.keys[0][0], lo):
                    n = _holding_prefix(ua, partial(pct_up_holds, price, low=lo))
                    self._fire_taken(book, ua.take_first(n), price, prev, ts, fires)
                if ud.maxes and not pct_up_holds(price, ud.maxes[-1], lo):
                    for alert in flatten(ud.take_last(_failing_suffix(ud, partial(pct_up_holds, price, low=lo)))):
                        self._rearm(book, alert, ts)
                if da.maxes and pct_down_holds(price, da.keys[0][0], hi):
                    n = _holding_prefix(da, partial(pct_down_holds, price, high=hi))
                    self._fire_taken(book, da.take_first(n), price, prev, ts, fires)
                if dd.maxes and not pct_down_holds(price, dd.maxes[-1], hi):
                    for alert in flatten(dd.take_last(_failing_suffix(dd, partial(pct_down_holds, price, high=hi)))):
                        self._rearm(book, alert, ts)
                group.lo, group.hi, group.next_event = _pct_band(book, group, price, start, lo, hi)
            glo = group.lo
            ghi = group.hi
            gnext = group.next_event
            if glo > plo:
                plo = glo
            if ghi < phi:
                phi = ghi
            if gnext < pnext:
                pnext = gnext
        book.plo = plo
        book.phi = phi
        book.pnext = pnext

    def _fire(
        self, book: Book, alert: Alert, price: float, prev: float | None, ts: float, fires: list[Fired],
        taken: bool = False,
    ) -> None:
        """An armed alert whose condition holds: fire it, or park it if cooling down.

        ``taken``: a level alert already taken out of its (only) armed family.
        """
        if alert.expires_at is not None and ts >= alert.expires_at:
            self.remove(alert.id)  # lazy purge: it can never fire again
            return
        if alert.trigger is _ONCE:
            fires.append(fired_from(alert, price, prev, ts, self._once_seq.get(alert.id, 0) + 1))
            self.remove(alert.id)
            return
        rt = self._rt.get(alert.id)
        if rt is None:  # rearm alerts get their mutable state on first use
            rt = self._rt[alert.id] = Runtime()
        last_fire = rt.last_fire
        if last_fire is not None and ts < last_fire + alert.cooldown_s:
            if not taken:
                for fam, key in _slots(book, alert, True):
                    fam.discard(key, alert.id)
            rt.parked = next(self._tokens)
            book.push_parked(last_fire + alert.cooldown_s, alert, rt.parked)
            return
        rt.seq += 1
        rt.last_fire = ts
        fires.append(fired_from(alert, price, prev, ts, rt.seq))
        if alert.condition in _LEVEL:
            if not taken:
                for fam, key in _slots(book, alert, True):
                    fam.discard(key, alert.id)
            rt.armed = False
            for fam, key in _slots(book, alert, False):
                fam.add(key, alert)

    def _fire_taken(
        self, book: Book, buckets: list[Alert | dict[str, Alert]], price: float, prev: float | None, ts: float,
        fires: list[Fired],
    ) -> None:
        """Fire the alerts of buckets just taken out of an armed level family.

        A level alert has no other place in the book, so a ``once`` alert without
        expiry only has to leave ``_alerts``; the rest go through ``_fire``.
        """
        alerts = self._alerts
        once_seq = self._once_seq
        append = fires.append
        for bucket in buckets:
            members: Iterable[Alert] = bucket.values() if type(bucket) is dict else (bucket,)  # type: ignore[assignment]
            for alert in members:
                if alert.trigger is _ONCE and alert.expires_at is None:
                    append(fired_from(alert, price, prev, ts, once_seq.pop(alert.id, 0) + 1))
                    del alerts[alert.id]
                else:
                    self._fire(book, alert, price, prev, ts, fires, True)

    def _rearm(self, book: Book, alert: Alert, ts: float) -> None:
        """A disarmed level alert, already taken out of its family, whose condition is false again: arm it."""
        if alert.expires_at is not None and ts >= alert.expires_at:
            self.remove(alert.id)  # lazy purge, as in _fire
            return
        self._rt[alert.id].armed = True
        for fam, key in _slots(book, alert, True):
            fam.add(key, alert)
        if self.rearm_log is not None:
            self.rearm_log.append(alert.id)

    def _rebalance(self, book: Book) -> None:
        """Recompute the quiet band ``[lo, hi]`` and ``next_event`` around the last price.

        Each family narrows the band to the prices its keys leave untouched; the
        event and percentage families' shares are kept on the book and refreshed
        only when a tick left them.
        """
        p = book.last_price
        if p is None:
            book.invalidate()
            return
        lo = -_INF
        hi = _INF
        fam = book.above_a
        if fam.maxes:  # fires iff price >= min key
            hi = min(hi, below(fam.first()))
        fam = book.above_d
        if fam.maxes:  # re-arms iff price < max key
            lo = max(lo, fam.last())
        fam = book.below_a
        if fam.maxes:
            lo = max(lo, above(fam.last()))
        fam = book.below_d
        if fam.maxes:
            hi = min(hi, fam.first())
        if not (book.elo <= p <= book.ehi):  # the event families' band, unless still valid
            book.elo, book.ehi = _event_band(book, p)
        lo = max(lo, book.elo)
        hi = min(hi, book.ehi)
        next_event = book.heap[0][0] if book.heap else _INF
        if book.pct:
            lo = max(lo, book.plo)
            hi = min(hi, book.phi)
            next_event = min(next_event, book.pnext)
        book.lo = lo
        book.hi = hi
        book.next_event = next_event

    # -- state ----------------------------------------------------------------
    def export_state(self, symbols: Iterable[str] | None = None, *, alerts: bool = True) -> IndexState:
        """Runtime state (all symbols, or the given ones and their alerts) for a store.

        ``alerts=False`` leaves the alerts' states out: a caller committing one
        symbol's tick state after a batch needs only that, and the states of a
        symbol holding 180,000 of W1's alerts take 0.45 s to export.
        """
        names = list(self._books) if symbols is None else [s for s in symbols if s in self._books]
        sym_states: dict[str, SymbolState] = {}
        alert_states: dict[str, AlertState] = {}
        for name in names:
            book = self._books[name]
            if book.last_price is not None:
                # An engine exports a symbol after each of its batches (a few ticks each):
                # the history is trimmed in place once it has grown by _EXPORT_SLACK ticks
                # since the last trim, and exported as it is in between (ticks a window
                # cannot need are harmless to a restore; matching is exact either way).
                if len(book.hist_ts) >= book.trim_at - _TRIM_SLACK + _EXPORT_SLACK:
                    self._trim(book, book.last_ts)
                sym_states[name] = SymbolState(
                    book.last_price, book.last_ts, tuple(book.hist_ts), tuple(book.hist_p)
                )
            if symbols is not None and alerts:
                for alert in self.alerts(name):
                    alert_states[alert.id] = self.alert_state(alert.id)
        if symbols is None and alerts:
            for alert_id in self._alerts:
                alert_states[alert_id] = self.alert_state(alert_id)
        return IndexState(sym_states, alert_states)

    def restore_state(self, state: IndexState) -> None:
        """Apply exported state: symbol tick state and the firing state of known alerts.

        A ``once`` alert whose state says it fired (``last_fire_ts`` set) leaves the index.
        """
        for name, st in state.symbols.items():
            book = self._book(name)
            book.last_price = st.last_price
            book.last_ts = st.last_ts
            book.hist_ts = array("d", st.history_ts)
            book.hist_p = array("d", st.history_price)
            book.reset_blocks()
            book.trim_at = len(book.hist_ts) + _TRIM_SLACK
            book.invalidate()
        for alert_id, ast in state.alerts.items():
            alert = self._alerts.get(alert_id)
            if alert is None:
                continue
            if alert.trigger is _ONCE:
                if ast.last_fire_ts is not None:
                    self.remove(alert_id)
                elif ast.seq:
                    self._once_seq[alert_id] = ast.seq
                continue
            if ast == _FRESH and alert_id not in self._rt:
                continue  # already so: placing it again would only cost time (an engine's cold start)
            self.remove(alert_id)
            self.add(alert, ast)

    # -- invariants -----------------------------------------------------------
    def _check(self) -> None:
        """Assert every internal invariant; for tests, never called in production."""
        placed: dict[str, int] = {}
        for name, book in self._books.items():
            for fam in book.families():
                assert len(fam.keys) == len(fam.vals) == len(fam.maxes), "family chunks out of sync"
                for ks, vs, mx in zip(fam.keys, fam.vals, fam.maxes, strict=True):
                    assert ks, "empty chunk"
                    assert len(ks) == len(vs), "keys and buckets differ in length"
                    assert ks[-1] == mx, "stale chunk maximum"
                flat = fam.flat_keys()
                assert all(a < b for a, b in itertools.pairwise(flat)), "family keys not strictly increasing"
                for key, bucket in fam.items():
                    if type(bucket) is dict:
                        assert len(bucket) > 1, "a lone alert must not keep a dict bucket"
                        members = list(bucket.items())
                    else:
                        members = [(bucket.id, bucket)]  # type: ignore[union-attr,list-item]
                    for alert_id, alert in members:
                        assert alert.symbol == name
                        assert key in (alert.threshold, alert.lower, alert.upper, alert.pct)
                        assert self._alerts.get(alert_id) is alert, f"{alert_id} indexed but not known"
                        placed[alert_id] = placed.get(alert_id, 0) + 1
            for alert_id in book.parked:
                token = self._rt[alert_id].parked
                assert token, "parked alert without a token"
                assert any(e[1] == token and e[2] == alert_id for e in book.heap), "parked alert missing from heap"
                placed[alert_id] = placed.get(alert_id, 0) + 1
            assert len(book.hist_ts) == len(book.hist_p)
        for alert_id, alert in self._alerts.items():
            rt = self._rt.get(alert_id)
            assert rt is None or alert.trigger is not _ONCE, "once alerts keep no runtime state"
            if rt is not None and rt.parked:
                assert placed.get(alert_id) == 1
                continue
            book = self._books[alert.symbol]
            expected = _slots(book, alert, rt is None or rt.armed)
            assert placed.get(alert_id) == len(expected), f"{alert_id} placed {placed.get(alert_id)}x"
            for fam, key in expected:
                found = fam.get(key)
                here = alert_id in found if isinstance(found, dict) else getattr(found, "id", None) == alert_id
                assert here, f"{alert_id} not where its state says"
