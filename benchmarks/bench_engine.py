"""Engine throughput on the memory and SQLite stores, and bounded concurrency vs one-at-a-time.

Run: ``make bench PYTEST_ARGS="-k bench_engine"`` (or ``pytest benchmarks/bench_engine.py --benchmark-enable``).
Each round processes the same ticks through a fresh engine over a freshly seeded
store, so every round records the same fires; ``extra_info`` carries ticks/s and
fires/s of the measured rounds.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from typing import Any

import pytest

from cryptoalerts import Alert, Tick
from cryptoalerts.engine import AlertEngine
from cryptoalerts.stores import AlertStore, MemoryStore, SQLiteStore

T0 = 4_000_000_000.0
N_ALERTS = 2_000
N_TICKS = 1_000
BATCH = 100


def workload(n_symbols: int) -> tuple[list[Alert], list[list[Tick]]]:
    rng = random.Random(3)
    symbols = [f"S{i:03d}" for i in range(n_symbols)]
    alerts = [
        Alert(id=f"a{i}", symbol=rng.choice(symbols), condition=rng.choice(["crosses", "above", "below"]),
              threshold=rng.randint(90, 110), trigger=rng.choice(["once", "rearm"]))
        for i in range(N_ALERTS)
    ]
    ts = dict.fromkeys(symbols, T0)
    ticks = []
    for _ in range(N_TICKS):
        sym = rng.choice(symbols)
        ts[sym] += 1
        ticks.append(Tick(sym, rng.randint(88, 112), ts[sym]))
    return alerts, [ticks[i : i + BATCH] for i in range(0, N_TICKS, BATCH)]


async def _seed(store: AlertStore, alerts: list[Alert]) -> None:
    await store.init()
    await store.put_alerts(alerts)


async def _run(store: AlertStore, batches: list[list[Tick]], max_concurrency: int) -> int:
    fired = 0
    async with AlertEngine(store, max_concurrency=max_concurrency) as engine:
        for batch in batches:
            fired += len((await engine.process(batch)).fired)
    return fired


def _bench(benchmark: Any, kind: str, n_symbols: int, max_concurrency: int) -> None:
    alerts, batches = workload(n_symbols)
    tmp = tempfile.TemporaryDirectory()
    counter = iter(range(1_000_000))

    def setup() -> tuple[tuple[AlertStore], dict[str, Any]]:
        store: AlertStore = MemoryStore() if kind == "memory" else SQLiteStore(f"{tmp.name}/{next(counter)}.db")
        loop = asyncio.new_event_loop()
        loop.run_until_complete(store.open())
        loop.run_until_complete(_seed(store, alerts))
        return (store,), {"loop": loop}

    fires: list[int] = []

    def run(store: AlertStore, loop: asyncio.AbstractEventLoop) -> None:
        try:
            fires.append(loop.run_until_complete(_run(store, batches, max_concurrency)))
            loop.run_until_complete(store.close())
        finally:
            loop.close()

    try:
        benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    finally:
        tmp.cleanup()
    stats = getattr(benchmark, "stats", None)
    mean = stats.stats.mean if stats else float("nan")  # None when benchmarks are disabled
    benchmark.extra_info.update(
        ticks=N_TICKS, alerts=N_ALERTS, symbols=n_symbols, fires=fires[0] if fires else 0,
        ticks_per_s=N_TICKS / mean, fires_per_s=(fires[0] if fires else 0) / mean,
    )


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_engine_throughput(benchmark: Any, kind: str) -> None:
    _bench(benchmark, kind, n_symbols=20, max_concurrency=16)


@pytest.mark.parametrize("max_concurrency", [1, 16])
def test_sqlite_fires_concurrency(benchmark: Any, max_concurrency: int) -> None:
    _bench(benchmark, "sqlite", n_symbols=50, max_concurrency=max_concurrency)

