"""DynamoDB store against DynamoDB Local: cold load and commit throughput.

* cold load of ``CRYPTOALERTS_BENCH_DYNAMO_N`` alerts (default 100,000; set e.g.
  2000 for a smoke run) with ``scan_segments`` 4 vs one sequential Scan;
* fires recorded per second: ``commit`` calls with bounded concurrency (16
  symbols in flight) vs one at a time.

Run: ``make bench PYTEST_ARGS="-k dynamodb"``. The ratio printed at the end of
each group is what ``docs/performance.md`` quotes; DynamoDB Local is far slower
than DynamoDB, so only ratios carry over.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cryptoalerts import Alert, AlertState, Condition, Fired, SymbolState
from cryptoalerts.aws.dynamodb import DynamoDBStore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
pytest_plugins = ["dynamodb_fixtures"]  # the session's DynamoDB Local (tests/ is on sys.path above)

pytestmark = pytest.mark.integration
# Loopback DynamoDB Local only: dummy credentials, never a developer's own.
os.environ["AWS_ACCESS_KEY_ID"] = os.environ["AWS_SECRET_ACCESS_KEY"] = "bench"
N = int(os.environ.get("CRYPTOALERTS_BENCH_DYNAMO_N", "100000"))
COMMITS = 200


@pytest.fixture(scope="module")
def loaded_table(dynamodb_local: str) -> str:
    table = f"bench-{N}"

    async def fill() -> None:
        async with DynamoDBStore(table, region="us-east-1", endpoint_url=dynamodb_local) as store:
            await store.init()
            if len((await store.load(0.0)).alerts) < N:
                await store.put_alerts(Alert(id=f"a{i:07d}", symbol=f"S{i % 50}", condition="above", threshold=i + 1)
                                       for i in range(N))  # fmt: skip

    asyncio.run(fill())
    return table


@pytest.mark.parametrize("segments", [1, 4])
def test_cold_load(benchmark: Callable[..., object], loaded_table: str, dynamodb_local: str, segments: int) -> None:
    async def load() -> int:
        async with DynamoDBStore(loaded_table, region="us-east-1", endpoint_url=dynamodb_local,
                                 scan_segments=segments) as store:  # fmt: skip
            return len((await store.load(0.0)).alerts)

    count = benchmark.pedantic(lambda: asyncio.run(load()), rounds=2, iterations=1)  # type: ignore[attr-defined]
    assert count == N


@pytest.mark.parametrize("concurrency", [1, 16])
def test_fires_per_second(dynamodb_local: str, concurrency: int, capsys: pytest.CaptureFixture[str]) -> None:
    async def run() -> float:
        async with DynamoDBStore(f"bench-commit-{concurrency}-{time.time_ns()}", region="us-east-1",
                                 endpoint_url=dynamodb_local) as store:  # fmt: skip
            await store.init()
            gate = asyncio.Semaphore(concurrency)

            async def one(k: int) -> None:
                symbol = f"S{k % 64}"
                fires = [Fired(f"{symbol}-{k}-{j}", symbol, Condition.ABOVE, 2.0, 1.0, float(k), 1, threshold=1.5)
                         for j in range(4)]  # fmt: skip
                async with gate:
                    version = (await store.get_symbol(symbol)).version
                    result = await store.commit(symbol, version, SymbolState(2.0, float(k)), fires,
                                                {f.alert_id: AlertState(True, float(k), 1) for f in fires})  # fmt: skip
                    assert result.committed

            start = time.perf_counter()
            await asyncio.gather(*(one(k) for k in range(COMMITS)))
            return COMMITS * 4 / (time.perf_counter() - start)

    rate = asyncio.run(run())
    with capsys.disabled():
        print(f"\nDynamoDB Local, concurrency {concurrency}: {rate:.0f} fires/s recorded ({COMMITS} commits of 4)")
