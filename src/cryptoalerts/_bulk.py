"""Bulk placement of a batch of new alerts, for ``AlertIndex.add_many``.

Building an index of a million alerts is bound by per-alert work, so nothing
here runs Python code per alert: attributes are read in C-level passes
(``np.fromiter`` over ``map`` of an ``attrgetter``), the placements are ordered
by one numpy sort, and family runs and shared keys are found with numpy on the
sorted arrays. Python loops go per family, per chunk and per shared key only.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from collections.abc import Callable
from itertools import chain, count, islice
from typing import Any

import numpy as np

from cryptoalerts._book import Book, Family, PctGroup
from cryptoalerts.model import Alert, Condition

_Array = np.ndarray[Any, Any]

# Where a new (armed) alert goes: (family code, key attribute) per place. Codes 0-7
# are the book's families in ``_armed_families`` order; percentage families are
# per window: code 8 + 2 * (window code), + 1 for moves down.
_PLACEMENTS: dict[Condition, tuple[tuple[int, str], ...]] = {
    Condition.ABOVE: ((0, "threshold"),),
    Condition.BELOW: ((1, "threshold"),),
    Condition.CROSSES_UP: ((2, "threshold"),),
    Condition.CROSSES_DOWN: ((3, "threshold"),),
    Condition.CROSSES: ((2, "threshold"), (3, "threshold")),
    Condition.ENTERS_CHANNEL: ((4, "lower"), (5, "upper")),
    Condition.EXITS_CHANNEL: ((6, "lower"), (7, "upper")),
    Condition.MOVES_UP_PCT: ((8, "pct"),),
    Condition.MOVES_DOWN_PCT: ((9, "pct"),),
}
_PCT = 8  # family codes from here on are percentage families
_CODE = {condition: code for code, condition in enumerate(_PLACEMENTS)}  # condition codes
_CROSSES = _CODE[Condition.CROSSES]
_CHANNELS = [_CODE[Condition.ENTERS_CHANNEL], _CODE[Condition.EXITS_CHANNEL]]
_MOVES = [_CODE[Condition.MOVES_UP_PCT], _CODE[Condition.MOVES_DOWN_PCT]]
_FIRST_FAMILY = np.array([places[0][0] for places in _PLACEMENTS.values()], np.int64)
_SECOND_FAMILY = np.array([places[-1][0] for places in _PLACEMENTS.values()], np.int64)
_id = operator.attrgetter("id")
_symbol = operator.attrgetter("symbol")
_condition = operator.attrgetter("condition")
_threshold = operator.attrgetter("threshold")
_channel = operator.attrgetter("lower", "upper")
_move = operator.attrgetter("pct", "window_s")


def _armed_families(book: Book) -> tuple[Family, ...]:
    """The book's families for codes 0-7."""
    return (book.above_a, book.below_a, book.cu, book.cd, book.el, book.eu, book.xl, book.xu)


def _pct_family(book: Book, code: int, window: float) -> Family:
    """The armed percentage family a code >= 8 stands for; creates its group if new."""
    group = book.pct.get(window)
    if group is None:
        group = book.pct[window] = PctGroup(window)
    return group.ua if code % 2 == 0 else group.da


def _pairs(alerts: list[Alert], at: _Array, getter: Callable[[Alert], tuple[float, float]]) -> tuple[_Array, _Array]:
    """Two float attributes of the alerts at positions ``at``, as two arrays."""
    values = chain.from_iterable(map(getter, map(alerts.__getitem__, at.tolist())))
    first, second = np.fromiter(values, np.float64, 2 * len(at)).reshape(-1, 2).T
    return first, second


def _sort_order(group: _Array, key: _Array) -> _Array:
    """Positions sorted by (group, key), positions with equal both in ascending order.

    What ``np.lexsort((key, group))`` gives, in half its time on W1 (47 vs 93 ms for
    1.08M placements): lexsort sorts the keys with a stable merge sort, where an
    unstable SIMD sort takes a quarter of that and only runs of equal keys need
    putting back in position order (110,000 on W1). Keys are > 0 (``Alert`` checks),
    and positive doubles order as their bit patterns do, so they are sorted as int64.
    Group codes go to the smallest unsigned type: up to 16 bits, numpy's stable sort
    is a radix sort.
    """
    k = key.view(np.int64) if key.min() > 0 else key
    by_key = np.argsort(k)
    sk = k[by_key]
    tie = sk[1:] == sk[:-1]
    if tie.any():
        tied = np.zeros(len(k), bool)
        tied[1:] = tie
        tied[:-1] |= tie
        at = np.flatnonzero(tied)
        run = np.cumsum(np.concatenate(([True], ~tie)))[at]  # which run of equal keys
        by_key[at] = by_key[at][np.lexsort((by_key[at], run))]
    g = group.astype(np.min_scalar_type(int(group.max())))
    return by_key[np.argsort(g[by_key], kind="stable")]


class Batch:
    """A batch of new alerts, read and ordered for placement; nothing changes until :meth:`place`.

    A *placement* is one (family, key, alert) that an alert occupies: one per
    alert, two for crosses and the channels. They are sorted by (symbol, family,
    key). Alerts sharing a key keep their batch order, except that in the
    crosses_down family the crosses alerts come after the crosses_down ones.
    """

    def __init__(self, alerts: list[Alert]) -> None:
        n = len(alerts)
        self.alerts = alerts
        symbol_code: defaultdict[str, int] = defaultdict(count().__next__)
        sym = np.fromiter(map(symbol_code.__getitem__, map(_symbol, alerts)), np.int64, n)
        self.names = list(symbol_code)  # by code: the symbols in order of first appearance
        cond = np.fromiter(map(_CODE.__getitem__, map(_condition, alerts)), np.int8, n)
        # First places: keyed by threshold, by lower (channels) or by pct (moves).
        key = np.fromiter(map(_threshold, alerts), np.float64, n)  # NaN where there is none
        fam = _FIRST_FAMILY[cond]
        channel_at = np.flatnonzero(np.isin(cond, _CHANNELS))
        upper = np.empty(0)
        if channel_at.size:  # a sparse pass: few alerts are channels
            key[channel_at], upper = _pairs(alerts, channel_at, _channel)
        self.move_at = np.flatnonzero(np.isin(cond, _MOVES))
        self.move_window = np.empty(0)
        self.windows: list[float] = []  # by window code, ascending
        if self.move_at.size:
            key[self.move_at], self.move_window = _pairs(alerts, self.move_at, _move)
            windows, window_code = np.unique(self.move_window, return_inverse=True)
            fam[self.move_at] += 2 * window_code
            self.windows = windows.tolist()
        self.n_fams = _PCT + 2 * len(self.windows)
        # Second places: crosses under crosses_down too, channels by their upper bound.
        cross_at = np.flatnonzero(cond == _CROSSES)
        self.src = np.concatenate((np.arange(n), cross_at, channel_at))  # the alert of each placement
        self.key = np.concatenate((key, key[cross_at], upper))
        second = _SECOND_FAMILY[np.concatenate((cond[cross_at], cond[channel_at]))]
        self.group = sym[self.src] * self.n_fams + np.concatenate((fam, second))  # (symbol, family)
        self.order = _sort_order(self.group, self.key)

    def too_long_window(self, history_s: float) -> Alert | None:
        """The first alert of the batch whose ``window_s`` exceeds ``history_s``, if any."""
        bad = self.move_at[self.move_window > history_s]
        return self.alerts[int(bad[0])] if bad.size else None

    def place(self, book_of: Callable[[str], Book]) -> None:
        """Put every placement in its family: in one step if it is empty, else by ``Family.add``.

        Each touched book is invalidated; ``book_of`` gets or creates a symbol's book.
        """
        order = self.order
        group = self.group[order]
        key = self.key[order]
        src = self.src[order]
        m = len(order)
        new_run = np.empty(m, bool)  # the placement starts a (symbol, family) run
        new_run[0] = True
        np.not_equal(group[1:], group[:-1], out=new_run[1:])
        new_key = np.empty(m, bool)  # ... or a key of its run
        new_key[0] = True
        np.not_equal(key[1:], key[:-1], out=new_key[1:])
        new_key |= new_run
        first = np.flatnonzero(new_key)  # per distinct key of a family: its first placement
        objects, bucket = self._buckets(src, first, np.diff(first, append=m))
        ukey = key[first]
        run = np.flatnonzero(new_run[first])  # per family run: its first distinct key
        run_end = np.append(run[1:], len(first))
        last_sym = -1
        book: Book | None = None
        families: tuple[Family, ...] = ()
        for lo, hi, g in zip(run.tolist(), run_end.tolist(), group[first[run]].tolist(), strict=True):
            sym, code = divmod(g, self.n_fams)
            if sym != last_sym:
                last_sym = sym
                book = book_of(self.names[sym])
                book.invalidate()
                families = _armed_families(book)
            assert book is not None
            fam = families[code] if code < _PCT else _pct_family(book, code, self.windows[(code - _PCT) // 2])
            if not fam.maxes:
                fam.load_sorted(ukey[lo:hi], objects, bucket[lo:hi])
                continue
            # already populated: one add per placement, in sorted order
            start = int(first[lo])
            end = int(first[hi]) if hi < len(first) else m
            for k, alert in zip(key[start:end].tolist(), objects[src[start:end]].tolist(), strict=True):
                fam.add(k, alert)

    def _buckets(self, src: _Array, first: _Array, size: _Array) -> tuple[_Array, _Array]:
        """The buckets of the distinct keys, as ``(objects, at)``: bucket j is ``objects[at[j]]``.

        ``objects`` holds the batch's alerts and then an ``{id: Alert}`` dict per
        key several placements share (``size`` of them from position ``first``),
        with their alerts in sorted order.
        """
        alerts = self.alerts
        at = src[first]
        shared = np.flatnonzero(size > 1)
        dicts: list[dict[str, Alert]] = []
        if shared.size:
            members = list(map(alerts.__getitem__, src[np.repeat(size > 1, size)].tolist()))
            pairs = zip(map(_id, members), members, strict=True)
            dicts = [dict(islice(pairs, k)) for k in size[shared].tolist()]
            at[shared] = len(alerts) + np.arange(len(dicts))
        return np.fromiter(chain(alerts, dicts), object, len(alerts) + len(dicts)), at
