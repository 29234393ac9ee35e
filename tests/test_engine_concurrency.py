"""Several engines, one store, the same tick stream: every fire recorded exactly once.

Issue 3: "4 engines in separate asyncio tasks (and, for sqlite, in separate
processes) receive the same tick stream (each tick delivered to every engine, in
shuffled timing) over 1,000 alerts with once and rearm triggers: the recorded
fires equal exactly what one engine alone records, no duplicate (alert_id, seq),
none missing."
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
from collections import Counter
from pathlib import Path

import pytest

from cryptoalerts import Alert, Fired, Tick
from cryptoalerts.engine import AlertEngine
from cryptoalerts.stores import AlertStore, MemoryStore, SQLiteStore
from test_engine import assert_same_fires, batches, by_key, make_alerts, make_ticks, reference_run
from test_store_contract import memory_store, sqlite_store, store_for  # noqa: F401 - fixtures

ENGINES = 4


def workload(n_alerts: int, n_ticks: int, seed: int = 11) -> tuple[list[Alert], list[Tick]]:
    rng = random.Random(seed)
    return make_alerts(rng, n_alerts), make_ticks(rng, n_ticks, strictly_increasing=True)


async def run_engine(store: AlertStore, ticks: list[Tick], seed: int, max_sleep: float = 0.002) -> list[Fired]:
    """One engine fed the whole stream, in its own batch sizes, with random pauses."""
    rng = random.Random(seed)
    delivered: list[Fired] = []
    async with AlertEngine(store, max_concurrency=rng.choice([1, 2, 8])) as engine:
        for batch in batches(ticks, rng, max_size=40):
            await asyncio.sleep(rng.random() * max_sleep)
            delivered.extend((await engine.process(batch)).fired)
    return delivered


async def check_recorded(store: AlertStore, expected: list[Fired]) -> None:
    recorded = await store.list_fires()
    duplicates = [k for k, n in Counter(f.key for f in recorded).items() if n > 1]
    assert duplicates == []
    assert by_key(recorded) == by_key(expected)


@pytest.fixture(params=["memory", "sqlite", pytest.param("dynamodb", marks=pytest.mark.integration)])
def shared_store(request: pytest.FixtureRequest) -> AlertStore:
    return store_for(request, request.param)


async def test_engines_in_tasks_record_each_fire_once(shared_store: AlertStore) -> None:
    small = not isinstance(shared_store, (MemoryStore, SQLiteStore))  # DynamoDB Local is slow
    alerts, ticks = workload(60, 90) if small else workload(1000, 450)
    expected, _ = reference_run(alerts, ticks)
    assert len(expected) > (10 if small else 200)
    await shared_store.put_alerts(alerts)
    results = await asyncio.gather(*(run_engine(shared_store, ticks, seed) for seed in range(ENGINES)))
    await check_recorded(shared_store, expected)
    for delivered in results:  # each engine hands on every fire at least once
        assert_same_fires(delivered, expected)


def _process_worker(path: str, ticks: list[tuple[str, float, float]], seed: int) -> int:
    """Entry point of a spawned process: one engine on the shared SQLite file."""
    async def main() -> int:
        async with SQLiteStore(path) as store:
            delivered = await run_engine(store, [Tick(*t) for t in ticks], seed, max_sleep=0.01)
        return len({f.key for f in delivered})

    return asyncio.run(main())


@pytest.mark.slow
async def test_engines_in_processes_share_one_sqlite_file(tmp_path: Path) -> None:
    alerts, ticks = workload(1000, 450, seed=12)
    expected, _ = reference_run(alerts, ticks)
    path = str(tmp_path / "multi.db")
    async with SQLiteStore(path) as store:
        await store.init()
        await store.put_alerts(alerts)
    rows = [(t.symbol, t.price, t.ts) for t in ticks]
    ctx = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    with ctx.Pool(ENGINES) as pool:
        pending = [pool.apply_async(_process_worker, (path, rows, seed)) for seed in range(ENGINES)]
        seen = await loop.run_in_executor(None, lambda: [p.get(timeout=120) for p in pending])
    assert seen == [len(expected)] * ENGINES  # every process handed on every fire
    async with SQLiteStore(path) as store:
        await check_recorded(store, expected)
