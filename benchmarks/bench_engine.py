"""Engine throughput on the memory and SQLite stores, and bounded concurrency vs one-at-a-time.

Run: ``make bench PYTEST_ARGS="-k bench_engine"`` (or ``pytest benchmarks/bench_engine.py --benchmark-enable``).
The W1 rounds (many symbols per batch) take their size from ``CRYPTOALERTS_BENCH_SCALE``
(default 0.1: 100,000 alerts and ticks over 1,000 symbols, batches of 10,000).
Each round processes the same ticks through a fresh engine over a freshly seeded
store, so every round records the same fires; ``extra_info`` carries ticks/s and
fires/s of the measured rounds.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from cryptoalerts import Alert, Tick
from cryptoalerts.engine import AlertEngine
from cryptoalerts.stores import AlertStore, MemoryStore, SQLiteStore

sys.path.insert(0, str(Path(__file__).parent))
from w1 import make_w1

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


def _rounds(
    benchmark: Any, kind: str, alerts: list[Alert], max_concurrency: int,
    replay: Callable[[AlertEngine], Awaitable[int]],
) -> float:
    """Three timed rounds of ``replay``, each on a started engine over a freshly seeded store.

    The engine's cold load of the store happens in the untimed setup. Records the fires of
    a round, checked equal in every round, in ``extra_info``; returns the mean time of a round.
    """
    tmp = tempfile.TemporaryDirectory()
    counter = iter(range(1_000_000))

    def setup() -> tuple[tuple[AlertEngine], dict[str, Any]]:
        store: AlertStore = MemoryStore() if kind == "memory" else SQLiteStore(f"{tmp.name}/{next(counter)}.db")
        loop = asyncio.new_event_loop()
        loop.run_until_complete(store.open())
        loop.run_until_complete(_seed(store, alerts))
        engine = AlertEngine(store, max_concurrency=max_concurrency)
        loop.run_until_complete(engine.start())
        return (engine,), {"loop": loop}

    fires: list[int] = []

    def run(engine: AlertEngine, loop: asyncio.AbstractEventLoop) -> None:
        try:
            fires.append(loop.run_until_complete(replay(engine)))
            loop.run_until_complete(engine.aclose())
            loop.run_until_complete(engine.store.close())
        finally:
            loop.close()

    try:
        benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    finally:
        tmp.cleanup()
    assert len(set(fires)) == 1, fires  # every round records the same fires
    stats = getattr(benchmark, "stats", None)
    mean = stats.stats.mean if stats else float("nan")  # None when benchmarks are disabled
    benchmark.extra_info.update(alerts=len(alerts), fires=fires[0], fires_per_s=fires[0] / mean)
    return mean


def _bench(benchmark: Any, kind: str, n_symbols: int, max_concurrency: int) -> None:
    alerts, batches = workload(n_symbols)

    async def replay(engine: AlertEngine) -> int:
        return sum([len((await engine.process(batch)).fired) for batch in batches])

    mean = _rounds(benchmark, kind, alerts, max_concurrency, replay)
    benchmark.extra_info.update(ticks=N_TICKS, symbols=n_symbols, ticks_per_s=N_TICKS / mean)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_engine_throughput(benchmark: Any, kind: str) -> None:
    _bench(benchmark, kind, n_symbols=20, max_concurrency=16)


@pytest.mark.parametrize("max_concurrency", [1, 16])
def test_sqlite_fires_concurrency(benchmark: Any, max_concurrency: int) -> None:
    _bench(benchmark, "sqlite", n_symbols=50, max_concurrency=max_concurrency)



@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_engine_on_w1_many_symbols_per_batch(benchmark: Any, kind: str) -> None:
    """W1's mixed batches through ``process_arrays``: one commit per symbol of a batch (1,000)."""
    n = max(1000, int(1_000_000 * float(os.environ.get("CRYPTOALERTS_BENCH_SCALE", "0.1"))))
    w = make_w1(n, n)
    batch = 10_000

    async def replay(engine: AlertEngine) -> int:
        fired = 0
        for s in range(0, n, batch):
            part = slice(s, s + batch)
            fired += len((await engine.process_arrays(w.symbols[part], w.prices[part], w.timestamps[part])).fired)
        return fired

    mean = _rounds(benchmark, kind, w.alerts, 16, replay)
    benchmark.extra_info.update(ticks=n, ticks_per_s=n / mean)
