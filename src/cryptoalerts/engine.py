"""The async engine: an :class:`AlertIndex` kept in step with a store, firing exactly once.

Why an engine: the index is a fast, synchronous, in-memory cache; the store is
the truth shared by every process. The engine matches ticks on the index and
makes each symbol's result durable with one conditional :meth:`AlertStore.commit`,
so several engines fed the same ticks record every fire exactly once.

Per batch: ticks are grouped by symbol (each symbol's ticks keep their order);
symbols are matched and committed concurrently (at most ``max_concurrency`` in
flight). Per symbol the engine commits *optimistically* against the version it
cached: if another writer moved the symbol first, the commit returns the current
record, the engine resyncs that symbol from the store (symbol state, its alerts'
states, and its alert set) and matches again, up to ``MAX_COMMIT_ATTEMPTS``.
Ticks the committed state already covers now count as stale or duplicate, and the
fires recorded for them are re-read with :meth:`AlertStore.list_fires` and
returned again: delivery to sinks is at-least-once (downstream dedupes on
``Fired.key``), while the store holds each ``(alert_id, seq)`` exactly once.

A symbol whose commit did not finish (an exception, a cancelled task) is marked
dirty and resynced from the store before the next batch, so the index is never
trusted past what the store has. ``docs/stores.md`` states the full protocol.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self

import numpy as np

from cryptoalerts.errors import ConflictError, CryptoAlertsError, ValidationError
from cryptoalerts.index import AlertIndex
from cryptoalerts.model import Alert, Fired, Tick, _check_name
from cryptoalerts.state import AlertState, IndexState, TickCounts
from cryptoalerts.stores._common import is_live
from cryptoalerts.stores.base import AlertStore, SymbolRecord

__all__ = ["MAX_COMMIT_ATTEMPTS", "AlertEngine", "BatchResult", "Sink"]

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[Fired]], Awaitable[None] | None]
#: Commit attempts per symbol per batch before :class:`ConflictError`; each lost
#: attempt means another engine made progress, so this only bounds starvation.
MAX_COMMIT_ATTEMPTS: Final = 16


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What one :meth:`AlertEngine.process` call did.

    ``fired``: fires committed by this call, plus fires of already-committed ticks
    of the batch re-found in the store (a retried batch); grouped by symbol in
    order of first appearance, in firing order within a symbol.
    ``counts``: accepted / stale / duplicate ticks of this batch.
    """

    fired: list[Fired]
    counts: TickCounts


@dataclass(frozen=True, slots=True)
class _SymbolResult:
    fired: list[Fired]
    accepted: int
    stale: int
    duplicate: int


class AlertEngine:
    """Match ticks against the alerts of ``store`` and record each fire exactly once.

    >>> async def main():  # doctest: +SKIP
    ...     async with open_store("sqlite:///alerts.db") as store, AlertEngine(store) as engine:
    ...         result = await engine.process([Tick("BTC-USD", 65000, 1.7e9)])

    One engine processes one batch at a time (``process``, ``refresh`` and
    ``put_alerts`` serialise on a lock); run several engines for parallelism.
    The engine does not own the store: open and close it yourself.

    Args:
        store: an open, initialised store.
        sinks: callables (sync or async) given each batch's non-empty ``fired`` list,
            after it is committed. A sink that raises makes ``process`` raise; the
            fires are recorded already, and re-processing the batch hands them on again.
        max_concurrency: symbols matched and committed at once.
        history_s: tick history the index keeps for percentage alerts; alerts with a
            longer ``window_s`` are refused.
        refresh_interval_s: if > 0, ``process`` first calls ``refresh`` when the
            last one is older than this; 0 (default) refreshes only when asked.
    """

    def __init__(
        self,
        store: AlertStore,
        *,
        sinks: Sequence[Sink] = (),
        max_concurrency: int = 16,
        history_s: float = 3600.0,
        refresh_interval_s: float = 0.0,
    ) -> None:
        if max_concurrency < 1:
            raise ValidationError("max_concurrency", max_concurrency, "must be >= 1")
        if not history_s > 0:
            raise ValidationError("history_s", history_s, "must be > 0")
        if not refresh_interval_s >= 0:
            raise ValidationError("refresh_interval_s", refresh_interval_s, "must be >= 0")
        self.store = store
        self.sinks = list(sinks)
        self.max_concurrency = max_concurrency
        self.history_s = history_s
        self.refresh_interval_s = refresh_interval_s
        self._index: AlertIndex | None = None
        self._versions: dict[str, int] = {}
        self._last_ts: dict[str, float] = {}
        self._retired: set[str] = set()  # fired `once` alerts: in the store, never in the index
        self._dirty: set[str] = set()
        self._watermark = ""
        self._last_refresh = -math.inf
        self._lock = asyncio.Lock()
        self._subscribers: list[asyncio.Queue[Fired | None]] = []

    # -- lifecycle --------------------------------------------------------------
    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Cold start: :meth:`AlertStore.load` into a fresh :class:`AlertIndex`."""
        async with self._lock:
            snapshot = await self.store.load(time.time())
            alerts = [a for a in snapshot.alerts if self._fits(a)]
            index = self._new_index(alerts)
            index.restore_state(snapshot.state)
            self._index = index
            self._versions = dict(snapshot.versions)
            self._last_ts = {s: st.last_ts for s, st in snapshot.state.symbols.items()}
            self._retired.clear()
            self._dirty.clear()
            self._watermark = snapshot.watermark
            self._last_refresh = time.monotonic()

    async def aclose(self) -> None:
        """End every :meth:`fires` iterator. The store stays open (the caller owns it)."""
        for queue in self._subscribers:
            queue.put_nowait(None)

    @property
    def index(self) -> AlertIndex:
        """The in-memory index (read it; change alerts through :meth:`put_alerts`)."""
        if self._index is None:
            raise CryptoAlertsError("the engine is not started: use `async with AlertEngine(store)` or start()")
        return self._index

    def _new_index(self, alerts: list[Alert]) -> AlertIndex:
        index = AlertIndex.from_alerts(alerts, history_s=self.history_s)  # type: ignore[no-untyped-call]
        index.rearm_log = []  # re-arms change alert state without a fire: commits persist them
        return index

    def _fits(self, alert: Alert) -> bool:
        if alert.window_s is not None and alert.window_s > self.history_s:
            log.warning(
                "alert %r skipped: window_s=%s exceeds the engine's history_s=%s",
                alert.id, alert.window_s, self.history_s,
            )
            return False
        return True

    # -- alert definitions --------------------------------------------------------
    async def put_alerts(self, alerts: Iterable[Alert]) -> int:
        """Upsert ``alerts`` in the store, then bring the index up to date; returns #written.

        Raises:
            ValidationError: before writing anything, if an alert's ``window_s``
                exceeds ``history_s``.
        """
        batch = list(alerts)
        for alert in batch:
            if alert.window_s is not None and alert.window_s > self.history_s:
                raise ValidationError("window_s", alert.window_s, f"exceeds the engine's history_s={self.history_s}")
        written = await self.store.put_alerts(batch)
        await self.refresh()
        return written

    async def refresh(self) -> int:
        """Apply the store's alert changes since the last load/refresh; returns #changes.

        Edited alerts keep the index's firing state; new ones take the store's
        (a re-created id continues its ``seq``); deleted ones leave the index.
        """
        async with self._lock:
            return await self._refresh()

    async def _refresh(self) -> int:
        index = self.index
        changes = await self.store.changes_since(self._watermark)
        for alert_id in changes.deleted:
            self._drop(alert_id)
        new: dict[str, list[Alert]] = {}
        for alert in changes.upserted:
            old = index.get(alert.id)
            if old is not None and old.symbol == alert.symbol:
                state = index.alert_state(alert.id)
                if old != alert:
                    index.discard(alert.id)
                    if self._fits(alert):
                        index.add(alert, state)
            else:
                self._drop(alert.id)
                new.setdefault(alert.symbol, []).append(alert)
        now = time.time()
        for symbol, alerts in new.items():
            states = await self.store.get_alert_states(symbol)
            for alert in alerts:
                self._adopt(alert, states.get(alert.id), now)
        self._watermark = changes.watermark
        self._last_refresh = time.monotonic()
        return len(changes.upserted) + len(changes.deleted)

    def _drop(self, alert_id: str) -> None:
        self.index.discard(alert_id)

    def _adopt(self, alert: Alert, state: AlertState | None, now: float) -> None:
        """Add a store alert to the index if it is live there."""
        if state is None:  # deleted since it was listed
            return
        if not is_live(alert, state, now):
            self._retired.add(alert.id)
            return
        if not self._fits(alert):
            return
        self.index.add(alert, state)

    # -- ticks ----------------------------------------------------------------------
    async def process_arrays(
        self, symbols: Sequence[str] | str, prices: Sequence[float] | Any, timestamps: Sequence[float] | Any
    ) -> BatchResult:
        """:meth:`process` for columns (``symbols`` may be one str for the whole batch).

        Numbers (or numpy arrays of them) are checked per column and grouped per
        symbol with numpy, without a ``Tick`` per row (that was a quarter of the
        demo's time); anything else (decimal strings, a bad value) goes through
        ``Tick``, so the checks and their messages are the same either way.
        """
        n = len(prices)
        if len(timestamps) != n or (not isinstance(symbols, str) and len(symbols) != n):
            raise ValidationError("arrays", n, "symbols, prices and timestamps must have the same length")
        groups = _group_columns(symbols, prices, timestamps)
        if groups is None:
            syms = [symbols] * n if isinstance(symbols, str) else symbols
            return await self.process([Tick(syms[i], prices[i], timestamps[i]) for i in range(n)])
        return await self._process_groups(groups)

    async def process(self, ticks: Sequence[Tick]) -> BatchResult:
        """Match ``ticks``, commit every symbol's result, hand the fires to the sinks.

        Returns only after every symbol of the batch is committed. Re-processing a
        batch (after a crash, a timeout, a lost response) records nothing twice and
        returns the batch's fires again.

        Raises:
            ConflictError: a symbol lost ``MAX_COMMIT_ATTEMPTS`` commits in a row.
            StoreError: the store failed; the batch can be retried as is.
        """
        groups: dict[str, tuple[list[float], list[float]]] = {}
        for tick in ticks:
            group = groups.get(tick.symbol)
            if group is None:
                group = groups[tick.symbol] = ([], [])
            group[0].append(tick.price)
            group[1].append(tick.ts)
        return await self._process_groups(groups)

    async def _process_groups(self, groups: dict[str, tuple[list[float], list[float]]]) -> BatchResult:
        """:meth:`process` for ticks already grouped per symbol (prices, timestamps), in delivery order."""
        async with self._lock:
            if self.refresh_interval_s > 0 and time.monotonic() - self._last_refresh >= self.refresh_interval_s:
                await self._refresh()
            await self._heal()
            index = self.index  # after _heal, which may rebuild it
            semaphore = asyncio.Semaphore(self.max_concurrency)
            try:
                async with asyncio.TaskGroup() as group:
                    tasks = [
                        group.create_task(self._process_symbol(symbol, prices, stamps, index, semaphore))
                        for symbol, (prices, stamps) in groups.items()
                    ]
            except BaseExceptionGroup as errors:
                raise errors.exceptions[0] from None  # the first failure; the others were cancelled by it
            fired: list[Fired] = []
            counts = TickCounts()
            for task in tasks:
                result = task.result()
                fired.extend(result.fired)
                counts.accepted += result.accepted
                counts.stale += result.stale
                counts.duplicate += result.duplicate
        if fired:
            for queue in self._subscribers:
                for fire in fired:
                    queue.put_nowait(fire)
            for sink in self.sinks:
                outcome = sink(fired)
                if inspect.isawaitable(outcome):
                    await outcome
        return BatchResult(fired, counts)

    async def _process_symbol(
        self, symbol: str, prices: list[float], stamps: list[float], index: AlertIndex, semaphore: asyncio.Semaphore
    ) -> _SymbolResult:
        async with semaphore:
            self._dirty.add(symbol)  # until the store and the index agree again
            checked = False
            for _attempt in range(MAX_COMMIT_ATTEMPTS):
                version = self._versions.get(symbol, 0)
                base_ts = self._last_ts.get(symbol)
                rearm_log = index.rearm_log
                assert rearm_log is not None  # set by _new_index
                rearm_log.clear()
                counts = index.counts
                before = (counts.accepted, counts.stale, counts.duplicate)
                fires = index.match_batch(symbol, prices, stamps)
                rearmed = rearm_log.copy()  # taken before any await: this symbol's re-arms only
                accepted = counts.accepted - before[0]
                stale = counts.stale - before[1]
                duplicate = counts.duplicate - before[2]
                if accepted == 0:
                    # Nothing to commit, but only the store can say the ticks are really old.
                    if checked:
                        break
                    checked = True
                    record = await self.store.get_symbol(symbol)
                    if record.version == version:
                        break
                    self._uncount(accepted, stale, duplicate)
                    await self._resync(symbol, record)
                    continue
                new_state = index.export_state([symbol], alerts=False).symbols[symbol]
                states: dict[str, AlertState] = {}
                for fire in fires:
                    if fire.alert_id in index:
                        states[fire.alert_id] = index.alert_state(fire.alert_id)
                    else:  # a `once` alert leaves the index when it fires
                        states[fire.alert_id] = AlertState(False, fire.ts, fire.seq)
                for alert_id in rearmed:
                    if alert_id not in states and alert_id in index:
                        states[alert_id] = index.alert_state(alert_id)  # re-armed without firing
                result = await self.store.commit(symbol, version, new_state, fires, states)
                if result.committed:
                    self._versions[symbol] = result.record.version
                    self._last_ts[symbol] = new_state.last_ts
                    self._retired.update(alert_id for alert_id in states if alert_id not in index)
                    break
                self._uncount(accepted, stale, duplicate)
                await self._resync(symbol, result.record)
            else:
                raise ConflictError(f"symbol {symbol!r}: lost {MAX_COMMIT_ATTEMPTS} commits in a row to other writers")
            if (stale or duplicate) and base_ts is not None:
                # Ticks the store already covered (a replay, or another engine was first):
                # their fires may never have reached a sink, so hand on what was recorded
                # at exactly those timestamps.
                old_ts = {ts for ts in stamps if ts <= base_ts}
                if old_ts:
                    fresh = {f.key for f in fires}
                    recorded = await self.store.list_fires(symbol=symbol, ts_from=min(old_ts), ts_to=max(old_ts))
                    fires = [f for f in recorded if f.ts in old_ts and f.key not in fresh] + fires
            self._dirty.discard(symbol)
            return _SymbolResult(fires, accepted, stale, duplicate)

    def _uncount(self, accepted: int, stale: int, duplicate: int) -> None:
        """Take a discarded attempt out of the index's cumulative counts."""
        counts = self.index.counts
        counts.accepted -= accepted
        counts.stale -= stale
        counts.duplicate -= duplicate

    async def _resync(self, symbol: str, record: SymbolRecord) -> None:
        """Make the index's view of ``symbol`` equal the store's at ``record.version``.

        ``record`` must have been read before the alert states (any commit in
        between makes the next commit at ``record.version`` fail and resync again).
        """
        index = self.index
        states = await self.store.get_alert_states(symbol)
        for alert in index.alerts(symbol):
            state = states.get(alert.id)
            if state is None or not is_live(alert, state, None):
                self._drop(alert.id)
                if state is not None:
                    self._retired.add(alert.id)
        now = time.time()
        for alert_id in states:
            if alert_id in index or alert_id in self._retired:
                continue
            stored = await self.store.get_alert(alert_id)
            if stored is not None and stored.alert.symbol == symbol:
                states[alert_id] = stored.state
                self._adopt(stored.alert, stored.state, now)
        kept = {a: s for a, s in states.items() if a in index}
        index.restore_state(IndexState({symbol: record.state} if record.state is not None else {}, kept))
        self._versions[symbol] = record.version
        if record.state is None:
            self._last_ts.pop(symbol, None)
        else:
            self._last_ts[symbol] = record.state.last_ts

    async def _heal(self) -> None:
        """Resync every symbol whose last commit did not finish (exception or cancel)."""
        for symbol in sorted(self._dirty):
            record = await self.store.get_symbol(symbol)
            if record.state is None:
                self._forget_symbol(symbol)
            await self._resync(symbol, record)
            self._dirty.discard(symbol)

    def _forget_symbol(self, symbol: str) -> None:
        """Rebuild the index without ``symbol``'s tick state (the store has none). O(n), rare."""
        old = self.index
        state = old.export_state()
        index = self._new_index(old.alerts())
        index.restore_state(IndexState({s: v for s, v in state.symbols.items() if s != symbol}, state.alerts))
        index.counts.accepted = old.counts.accepted
        index.counts.stale = old.counts.stale
        index.counts.duplicate = old.counts.duplicate
        self._index = index

    # -- fires as a stream ----------------------------------------------------------------
    async def fires(self) -> AsyncIterator[Fired]:
        """Every fire this engine hands to its sinks, as an async iterator, until :meth:`aclose`.

        Subscribe before processing; the buffer is unbounded, so consume promptly.
        """
        queue: asyncio.Queue[Fired | None] = asyncio.Queue()
        self._subscribers.append(queue)
        try:
            while (fire := await queue.get()) is not None:
                yield fire
        finally:
            self._subscribers.remove(queue)


_NUMBER_TYPES: Final = frozenset({float, int})


def _group_columns(
    symbols: Sequence[str] | str, prices: Sequence[float] | Any, timestamps: Sequence[float] | Any
) -> dict[str, tuple[list[float], list[float]]] | None:
    """Columns grouped per symbol as ``{symbol: (prices, timestamps)}`` in row order.

    None when a column is not plain numbers (numpy's float conversion would take a
    bool or a decimal string without the checks ``Tick`` makes) or a value fails a
    check: the caller then builds the ``Tick`` that names it.
    """
    columns = []
    for column in (prices, timestamps):
        if isinstance(column, np.ndarray):
            if column.dtype.kind not in "fiu":
                return None
        elif not set(map(type, column)) <= _NUMBER_TYPES:
            return None
        columns.append(np.asarray(column, dtype=np.float64))
    p, t = columns
    if not (np.isfinite(p).all() and (p > 0).all() and np.isfinite(t).all()):
        return None
    if isinstance(symbols, str):
        _check_name("symbol", symbols)
        return {symbols: (p.tolist(), t.tolist())}
    try:
        names = dict.fromkeys(symbols)
    except TypeError:  # unhashable
        return None
    for name in names:
        try:
            _check_name("symbol", name)
        except ValidationError:
            return None
    if len(names) == 1:
        return {next(iter(names)): (p.tolist(), t.tolist())}
    code = {name: i for i, name in enumerate(names)}
    codes = np.fromiter(map(code.__getitem__, symbols), np.int64, len(p))
    order = np.argsort(codes, kind="stable")  # stable: each symbol's rows stay in delivery order
    cuts = np.searchsorted(codes[order], np.arange(1, len(names))).tolist()
    return {
        name: (ps.tolist(), ts.tolist())
        for name, ps, ts in zip(names, np.split(p[order], cuts), np.split(t[order], cuts), strict=True)
    }
