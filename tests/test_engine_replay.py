"""Crash and replay: an engine cancelled mid-batch, then the batch again. Nothing lost, nothing doubled."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Iterable, Sequence
from pathlib import Path

import pytest

from cryptoalerts import Alert, AlertState, Fired, SymbolState, Tick
from cryptoalerts.engine import AlertEngine
from cryptoalerts.stores import (
    AlertStore,
    ChangeSet,
    CommitResult,
    MemoryStore,
    Snapshot,
    SQLiteStore,
    StoredAlert,
    SymbolRecord,
)
from test_engine import T0, assert_same_fires, batches, by_key, make_alerts, make_ticks, reference_run


class GatedStore(AlertStore):
    """A real store whose ``commit`` can be held before or after it writes, to cut an engine off."""

    def __init__(self, inner: AlertStore) -> None:
        self.inner = inner
        self.hold: str | None = None  # "before" or "after"
        self.reached = asyncio.Event()
        self._never = asyncio.Event()

    async def commit(
        self,
        symbol: str,
        expected_version: int,
        new_state: SymbolState,
        fires: Sequence[Fired],
        alert_states: dict[str, AlertState],
    ) -> CommitResult:
        if self.hold == "before" and fires:
            self.reached.set()
            await self._never.wait()
        result = await self.inner.commit(symbol, expected_version, new_state, fires, alert_states)
        if self.hold == "after" and fires:
            self.reached.set()
            await self._never.wait()  # committed, but the answer never arrives
        return result

    async def init(self) -> None:
        await self.inner.init()

    async def put_alert(self, alert: Alert) -> None:
        await self.inner.put_alert(alert)

    async def put_alerts(self, alerts: Iterable[Alert]) -> int:
        return await self.inner.put_alerts(alerts)

    async def delete_alert(self, alert_id: str) -> bool:
        return await self.inner.delete_alert(alert_id)

    async def get_alert(self, alert_id: str) -> StoredAlert | None:
        return await self.inner.get_alert(alert_id)

    async def list_alerts(self, *, symbol: str | None = None, owner: str | None = None) -> list[StoredAlert]:
        return await self.inner.list_alerts(symbol=symbol, owner=owner)

    async def load(self, now: float | None = None) -> Snapshot:
        return await self.inner.load(now)

    async def changes_since(self, watermark: str) -> ChangeSet:
        return await self.inner.changes_since(watermark)

    async def get_symbol(self, symbol: str) -> SymbolRecord:
        return await self.inner.get_symbol(symbol)

    async def get_alert_states(self, symbol: str) -> dict[str, AlertState]:
        return await self.inner.get_alert_states(symbol)

    async def list_fires(
        self,
        *,
        alert_id: str | None = None,
        symbol: str | None = None,
        ts_from: float | None = None,
        ts_to: float | None = None,
    ) -> list[Fired]:
        return await self.inner.list_fires(alert_id=alert_id, symbol=symbol, ts_from=ts_from, ts_to=ts_to)

    async def get_fire(self, alert_id: str, seq: int) -> Fired | None:
        return await self.inner.get_fire(alert_id, seq)

    async def claim_notification(self, alert_id: str, seq: int, *, now: float, lease_s: float) -> bool:
        return await self.inner.claim_notification(alert_id, seq, now=now, lease_s=lease_s)

    async def confirm_notification(self, alert_id: str, seq: int) -> None:
        await self.inner.confirm_notification(alert_id, seq)

    async def notification_confirmed(self, alert_id: str, seq: int) -> bool:
        return await self.inner.notification_confirmed(alert_id, seq)


@pytest.fixture(params=["memory", "sqlite"])
async def inner(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AlertStore]:
    s: AlertStore = MemoryStore() if request.param == "memory" else SQLiteStore(str(tmp_path / "r.db"))
    async with s:
        await s.init()
        yield s


@pytest.mark.parametrize("where", ["before", "after", "sink"])
@pytest.mark.parametrize("restart", [False, True], ids=["same-engine", "new-engine"])
async def test_cancelled_batch_replays_exactly_once(inner: AlertStore, where: str, restart: bool) -> None:
    rng = random.Random(5)
    alerts = make_alerts(rng, 200)
    ticks = make_ticks(rng, 300, strictly_increasing=True)
    expected, _ = reference_run(alerts, ticks)
    store = GatedStore(inner)
    await store.put_alerts(alerts)
    parts = batches(ticks, rng, max_size=30)
    cut = len(parts) // 2
    sink_reached = asyncio.Event()
    blocking = {"on": False}

    async def sink(fires: Sequence[Fired]) -> None:
        if blocking["on"]:
            sink_reached.set()
            await asyncio.Event().wait()  # a sink that hangs until the task is cancelled

    delivered: list[Fired] = []
    engine = AlertEngine(store, sinks=[sink], max_concurrency=3)
    await engine.start()
    for batch in parts[:cut]:
        delivered.extend((await engine.process(batch)).fired)
    # cut the engine off in the middle of a batch that fires
    if where == "sink":
        blocking["on"] = True
    else:
        store.hold = where
    task = asyncio.create_task(engine.process(parts[cut]))
    await asyncio.wait_for((sink_reached if where == "sink" else store.reached).wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    store.hold, blocking["on"] = None, False
    if restart:
        await engine.aclose()
        engine = AlertEngine(store, sinks=[sink], max_concurrency=3)
        await engine.start()
    for batch in parts[cut:]:  # the interrupted batch again, then the rest
        delivered.extend((await engine.process(batch)).fired)
    await engine.aclose()
    recorded = await store.list_fires()
    assert by_key(recorded) == by_key(expected)  # nothing lost, nothing doubled
    assert_same_fires(delivered, expected)  # and every fire handed on at least once


async def test_cancelled_first_commit_of_a_symbol_forgets_its_state(inner: AlertStore) -> None:
    """The store has no state for the symbol, so the index must drop what the lost attempt matched."""
    store = GatedStore(inner)
    await store.put_alerts([Alert(id="up", symbol="NEW", condition="crosses_up", threshold=100),
                            Alert(id="other", symbol="OLD", condition="crosses", threshold=5.5, trigger="rearm")])
    batch = [Tick("NEW", 99, T0), Tick("NEW", 101, T0 + 1)]
    async with AlertEngine(store) as engine:
        await engine.process([Tick("OLD", 5, T0)])
        store.hold = "before"
        task = asyncio.create_task(engine.process(batch))
        await asyncio.wait_for(store.reached.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        store.hold = None
        assert (await store.get_symbol("NEW")).version == 0
        result = await engine.process(batch)
        later = await engine.process([Tick("OLD", 6, T0 + 1)])
    assert [f.key for f in result.fired] == [("up", 1)]
    assert result.counts.accepted == 2
    assert [f.key for f in later.fired] == [("other", 1)]  # OLD's prev price survived the rebuild
    assert [f.key for f in await store.list_fires(symbol="NEW")] == [("up", 1)]
