"""AlertEngine over real stores (memory, sqlite): same fires as the brute-force reference."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cryptoalerts import Alert, AlertState, Condition, Fired, ReferenceIndex, Tick, TickCounts
from cryptoalerts.engine import AlertEngine, BatchResult
from cryptoalerts.errors import ValidationError
from cryptoalerts.stores import AlertStore, MemoryStore, SQLiteStore

T0 = 4_000_000_000.0  # far future, so wall-clock expiry filtering in load() never interferes
SYMBOLS = ("BTC", "ETH", "SOL")


# -- workload shared by the engine test files ---------------------------------------------
def make_alerts(rng: random.Random, n: int, symbols: Sequence[str] = SYMBOLS) -> list[Alert]:
    """Alerts of every condition on prices 92..108, so ties and boundaries happen all the time."""
    alerts = []
    for i in range(n):
        condition = rng.choice(list(Condition))
        kw: dict[str, object] = {}
        if condition in (Condition.ENTERS_CHANNEL, Condition.EXITS_CHANNEL):
            kw["lower"] = rng.randint(94, 100)
            kw["upper"] = kw["lower"] + rng.randint(1, 6)  # type: ignore[operator]
        elif condition in (Condition.MOVES_UP_PCT, Condition.MOVES_DOWN_PCT):
            kw["pct"] = rng.choice([1, 2, 5])
            kw["window_s"] = rng.choice([5, 30, 60])
        else:
            kw["threshold"] = rng.randint(95, 105)
        alerts.append(Alert(
            id=f"a{i:05d}", symbol=rng.choice(symbols), condition=condition,
            trigger=rng.choice(["once", "rearm"]), cooldown_s=rng.choice([0, 0, 3]),
            expires_at=rng.choice([None] * 5 + [T0 + rng.randint(10, 200)]), **kw,  # type: ignore[arg-type]
        ))
    return alerts


def make_ticks(
    rng: random.Random, n: int, symbols: Sequence[str] = SYMBOLS, *, strictly_increasing: bool = False
) -> list[Tick]:
    """Interleaved ticks with exact duplicates, stale ones and (unless strictly increasing) repeated ts.

    Replays are idempotent only for streams whose timestamps rise strictly apart
    from exact duplicates (see docs/stores.md), so concurrency tests ask for that.
    """
    steps = [1, 1, 2, 5] if strictly_increasing else [0, 1, 1, 2, 5]
    ts = dict.fromkeys(symbols, T0)
    ticks: list[Tick] = []
    for _ in range(n):
        sym = rng.choice(symbols)
        roll = rng.random()
        last = next((t for t in reversed(ticks) if t.symbol == sym), None)
        if last is not None and roll < 0.05:
            ticks.append(last)  # exact duplicate
        elif last is not None and roll < 0.08:
            ticks.append(Tick(sym, rng.randint(92, 108), last.ts - 2))  # stale
        else:
            ts[sym] += rng.choice(steps)
            ticks.append(Tick(sym, rng.randint(92, 108) + rng.choice([0, 0.5]), ts[sym]))
    return ticks


def reference_run(alerts: list[Alert], ticks: list[Tick]) -> tuple[list[Fired], TickCounts]:
    index = ReferenceIndex(alerts)
    fires = [f for t in ticks for f in index.match(t)]
    return fires, index.counts


def batches(ticks: list[Tick], rng: random.Random, max_size: int = 25) -> list[list[Tick]]:
    out, i = [], 0
    while i < len(ticks):
        size = rng.randint(1, max_size)
        out.append(ticks[i : i + size])
        i += size
    return out


def by_key(fires: Sequence[Fired]) -> list[Fired]:
    return sorted(fires, key=lambda f: f.key)


def assert_same_fires(delivered: Sequence[Fired], expected: Sequence[Fired]) -> None:
    """Delivery is at-least-once: the same records as ``expected``, repeats allowed, none missing."""
    wanted = {f.key: f for f in expected}
    assert len(wanted) == len(expected)
    assert all(wanted.get(f.key) == f for f in delivered)
    assert {f.key for f in delivered} == set(wanted)


async def seeded(store: AlertStore, alerts: list[Alert]) -> AlertStore:
    await store.init()
    await store.put_alerts(alerts)
    return store


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AlertStore]:
    s: AlertStore = MemoryStore() if request.param == "memory" else SQLiteStore(str(tmp_path / "e.db"))
    async with s:
        await s.init()
        yield s


# -- tests -----------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_engine_fires_equal_reference(store: AlertStore, seed: int) -> None:
    rng = random.Random(seed)
    alerts = make_alerts(rng, 150)
    ticks = make_ticks(rng, 600)
    expected, expected_counts = reference_run(alerts, ticks)
    await store.put_alerts(alerts)
    got: list[Fired] = []
    counts = TickCounts()
    async with AlertEngine(store, max_concurrency=2) as engine:
        for batch in batches(ticks, rng):
            result = await engine.process(batch)
            got.extend(result.fired)
            counts.accepted += result.counts.accepted
            counts.stale += result.counts.stale
            counts.duplicate += result.counts.duplicate
    assert expected, "the workload should fire"
    assert_same_fires(got, expected)
    assert by_key(await store.list_fires()) == by_key(expected)
    assert counts == expected_counts
    # the store's alert states are what the reference ended with
    ref = ReferenceIndex(alerts)
    for t in ticks:
        ref.match(t)
    stored = {s.alert.id: s.state for s in await store.list_alerts()}
    for alert in ref.alerts():
        state = ref.alert_state(alert.id)
        assert (stored[alert.id].seq, stored[alert.id].last_fire_ts) == (state.seq, state.last_fire_ts)


async def test_restart_continues_where_the_store_left_off(store: AlertStore) -> None:
    rng = random.Random(7)
    alerts = make_alerts(rng, 120)
    ticks = make_ticks(rng, 400)
    expected, _ = reference_run(alerts, ticks)
    await store.put_alerts(alerts)
    async with AlertEngine(store) as first:
        for batch in batches(ticks[:200], rng):
            await first.process(batch)
    async with AlertEngine(store) as second:  # a cold start from the store
        for batch in batches(ticks[200:], rng):
            await second.process(batch)
    assert by_key(await store.list_fires()) == by_key(expected)


async def test_refresh_applies_store_changes(store: AlertStore) -> None:
    await store.put_alerts([Alert(id="keep", symbol="BTC", condition="above", threshold=100, trigger="rearm"),
                            Alert(id="gone", symbol="BTC", condition="above", threshold=100)])
    async with AlertEngine(store) as engine:
        first = await engine.process([Tick("BTC", 101, T0)])
        assert sorted(f.alert_id for f in first.fired) == ["gone", "keep"]
        assert engine.index.alert_state("keep") == AlertState(False, T0, 1)
        # changes made by someone else, straight in the store
        await store.put_alert(Alert(id="new", symbol="ETH", condition="below", threshold=50))
        await store.put_alert(Alert(id="keep", symbol="BTC", condition="above", threshold=100, trigger="rearm",
                                    note="edited"))
        await store.delete_alert("never-existed")
        assert "new" not in engine.index
        assert await engine.refresh() >= 2
        assert "new" in engine.index
        assert "gone" not in engine.index  # fired once: it stays out
        kept = engine.index.get("keep")
        assert kept is not None
        assert kept.note == "edited"
        assert engine.index.alert_state("keep") == AlertState(False, T0, 1)  # edit kept the state
        await store.delete_alert("new")
        await engine.refresh()
        assert "new" not in engine.index
        # put_alerts through the engine: store first, then the index
        assert await engine.put_alerts([Alert(id="via-engine", symbol="SOL", condition="above", threshold=1)]) == 1
        assert "via-engine" in engine.index
        assert (await store.get_alert("via-engine")) is not None
        with pytest.raises(ValidationError, match="history_s"):
            await engine.put_alerts([Alert(id="long", symbol="SOL", condition="moves_up_pct", pct=1,
                                           window_s=10_000)])
        assert await store.get_alert("long") is None  # refused before anything was written
        result = await engine.process([Tick("SOL", 2, T0), Tick("BTC", 99, T0 + 1), Tick("BTC", 102, T0 + 2)])
    assert sorted(f.key for f in result.fired) == [("keep", 2), ("via-engine", 1)]


async def test_refresh_interval_refreshes_before_a_batch(store: AlertStore) -> None:
    async with AlertEngine(store, refresh_interval_s=1e-9) as engine:
        await store.put_alert(Alert(id="late", symbol="BTC", condition="above", threshold=100))
        result = await engine.process([Tick("BTC", 101, T0)])
    assert [f.key for f in result.fired] == [("late", 1)]


async def test_sinks_and_fire_stream_get_each_batch(store: AlertStore) -> None:
    await store.put_alerts([Alert(id=f"a{i}", symbol="BTC", condition="crosses_up", threshold=100 + i,
                                  trigger="rearm") for i in range(3)])
    sync_calls: list[list[Fired]] = []
    async_calls: list[list[Fired]] = []

    def sync_sink(fires: Sequence[Fired]) -> None:
        sync_calls.append(list(fires))

    async def async_sink(fires: Sequence[Fired]) -> None:
        async_calls.append(list(fires))

    async with AlertEngine(store, sinks=[sync_sink, async_sink]) as engine:
        stream = engine.fires()
        streamed: list[Fired] = []

        async def consume() -> None:
            streamed.extend([fire async for fire in stream])

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0)
        quiet = await engine.process([Tick("BTC", 99, T0)])
        loud = await engine.process([Tick("BTC", 101.5, T0 + 1), Tick("BTC", 99, T0 + 2), Tick("BTC", 103, T0 + 3)])
    await consumer
    assert quiet.fired == []
    assert [f.key for f in loud.fired] == [("a0", 1), ("a1", 1), ("a0", 2), ("a1", 2), ("a2", 1)]
    assert sync_calls == async_calls == [loud.fired]  # empty batches are not handed on
    assert streamed == loud.fired


async def test_stale_and_duplicate_ticks_are_counted(store: AlertStore) -> None:
    await store.put_alert(Alert(id="a", symbol="BTC", condition="above", threshold=100, trigger="rearm"))
    async with AlertEngine(store) as engine:
        result = await engine.process([
            Tick("BTC", 99, T0 + 10), Tick("BTC", 99, T0 + 10),   # duplicate
            Tick("BTC", 101, T0 + 5),                              # stale
            Tick("BTC", 101, T0 + 10),                             # same ts, new price: accepted
            Tick("ETH", 5, T0),
        ])
        assert result.counts == TickCounts(accepted=3, stale=1, duplicate=1)
        assert [f.key for f in result.fired] == [("a", 1)]
        again = await engine.process([Tick("BTC", 101, T0 + 10), Tick("BTC", 500, T0 + 1)])
        assert again.counts == TickCounts(accepted=0, stale=1, duplicate=1)
        # the already-recorded fire of those ticks is handed on again (at-least-once)
        assert [f.key for f in again.fired] == [("a", 1)]
        assert await engine.process([]) == BatchResult([], TickCounts())
    assert [f.key for f in await store.list_fires()] == [("a", 1)]


async def test_process_arrays_matches_process(store: AlertStore) -> None:
    await store.put_alert(Alert(id="a", symbol="BTC", condition="crosses", threshold=100, trigger="rearm"))
    async with AlertEngine(store) as engine:
        result = await engine.process_arrays("BTC", [99.0, 101.0, 98.0], [T0, T0 + 1, T0 + 2])
        mixed = await engine.process_arrays(["BTC", "ETH"], [102.0, 1.0], [T0 + 3, T0 + 3])
        with pytest.raises(ValidationError):
            await engine.process_arrays("BTC", [1.0, 2.0], [T0 + 9])
    assert [f.key for f in result.fired] == [("a", 1), ("a", 2)]
    assert [f.key for f in mixed.fired] == [("a", 3)]
    assert result.counts.accepted == 3


async def test_process_arrays_of_numbers_matches_process_of_ticks(store: AlertStore) -> None:
    """The column path (numpy grouping, no Tick per row) against process() on the same stream."""
    rng = random.Random(11)
    alerts = make_alerts(rng, 300)
    ticks = make_ticks(rng, 1500)
    other = MemoryStore()
    await other.init()
    for s in (store, other):
        await s.put_alerts(alerts)
    async with AlertEngine(store) as by_columns, AlertEngine(other) as by_ticks:
        for start in range(0, len(ticks), 400):
            part = ticks[start : start + 400]
            columns = (
                [t.symbol for t in part],
                np.array([t.price for t in part]),
                [t.ts for t in part] if start % 800 else np.array([t.ts for t in part]),  # lists and arrays
            )
            got = await by_columns.process_arrays(*columns)
            expected = await by_ticks.process(part)
            assert got == expected
    assert [f.key for f in await store.list_fires()] == [f.key for f in await other.list_fires()]
    assert len(await store.list_fires()) > 100


@pytest.mark.parametrize(
    ("symbols", "prices", "timestamps", "field"),
    [
        (["BTC", "ETH"], [101.0, float("nan")], [T0, T0], "price"),
        (["BTC", "ETH"], np.array([101.0, -1.0]), [T0, T0], "price"),
        (["BTC", "ETH"], [101.0, True], [T0, T0], "price"),  # a bool is not a price, even to numpy
        (["BTC", "ETH"], [101.0, "abc"], [T0, T0], "price"),
        (["BTC", "ETH"], [101.0, 1.0], [T0, float("inf")], "ts"),
        (["BTC", ""], [101.0, 1.0], [T0, T0], "symbol"),
        (["BTC", "E\nTH"], [101.0, 1.0], [T0, T0], "symbol"),
        ("", [101.0, 1.0], [T0, T0], "symbol"),
    ],
)
async def test_process_arrays_refuses_a_bad_row_before_matching_any(
    store: AlertStore, symbols: Any, prices: Any, timestamps: Any, field: str
) -> None:
    await store.put_alert(Alert(id="a", symbol="BTC", condition="above", threshold=100))
    async with AlertEngine(store) as engine:
        with pytest.raises(ValidationError) as err:
            await engine.process_arrays(symbols, prices, timestamps)
        assert err.value.field == field
        assert engine.index.counts == TickCounts()
        # decimal strings are prices, as in Tick
        result = await engine.process_arrays(["BTC"], ["100.5"], [T0])
    assert [f.key for f in result.fired] == [("a", 1)]
    assert [f.key for f in await store.list_fires()] == [("a", 1)]


async def test_engine_refuses_bad_settings_and_use_before_start(store: AlertStore) -> None:
    with pytest.raises(ValidationError):
        AlertEngine(store, max_concurrency=0)
    engine = AlertEngine(store)
    with pytest.raises(Exception, match="not started"):
        await engine.process([Tick("BTC", 1, T0)])
