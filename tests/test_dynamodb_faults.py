"""With a fifth of all DynamoDB requests failing, every fire is still recorded exactly once.

The engine runs against DynamoDB Local through :class:`FaultProxy` (throttling,
HTTP 500, connections dropped before and *after* the write, partial
``BatchWriteItem``). A batch that fails past the retries is replayed, as Lambda
would; then the whole stream is replayed again by a second engine (a duplicate
delivery). The recorded fires must equal, key for key and field for field, what
:class:`ReferenceIndex` computes from the same ticks.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from cryptoalerts import Alert, ReferenceIndex, StoreError, Tick
from cryptoalerts.aws.dynamodb import DynamoDBStore
from cryptoalerts.engine import AlertEngine
from faultproxy import FaultProxy

pytestmark = [pytest.mark.integration, pytest.mark.slow]

T0 = 1_700_000_000.0


def workload(seed: int) -> tuple[list[Alert], list[list[Tick]]]:
    """Two symbols, alerts of every kind on prices 90..110, ticks batched by 8."""
    rng = random.Random(seed)
    conditions = ["above", "below", "crosses_up", "crosses_down", "crosses"]
    out: list[Alert] = []
    for i in range(48):
        symbol = ("BTC-USD", "ETH-USD")[i % 2]
        out.append(Alert(id=f"a{i:03d}", symbol=symbol, condition=conditions[i % 5], threshold=rng.randint(92, 108),
                         trigger="rearm" if i % 3 else "once", cooldown_s=0 if i % 4 else 5))  # fmt: skip
    out += [Alert(id=f"ch{i}", symbol="BTC-USD", condition="exits_channel", lower=95, upper=105, trigger="rearm")
            for i in range(4)]  # fmt: skip
    # 120 alerts crossing at 100 all fire on one tick: a commit too big for one transaction.
    out += [Alert(id=f"wall{i:03d}", symbol="ETH-USD", condition="crosses_up", threshold=100, trigger="once")
            for i in range(120)]  # fmt: skip
    prices = {"BTC-USD": 100.0, "ETH-USD": 95.0}
    ticks: list[Tick] = []
    for k in range(48):
        symbol = ("BTC-USD", "ETH-USD")[k % 2]
        prices[symbol] = min(115.0, max(85.0, prices[symbol] + rng.choice([-4, -2, -1, 1, 2, 4])))
        ticks.append(Tick(symbol, prices[symbol], T0 + k))
    return out, [ticks[i : i + 8] for i in range(0, len(ticks), 8)]


async def run_engine(store: DynamoDBStore, batches: list[list[Tick]]) -> int:
    """Process every batch, replaying a batch the store failed (as Lambda retries)."""
    replays = 0
    async with AlertEngine(store) as engine:
        for batch in batches:
            for _attempt in range(20):
                try:
                    await engine.process(batch)
                    break
                except StoreError:
                    replays += 1
            else:
                pytest.fail("a batch failed 20 times in a row")
    return replays


async def test_twenty_percent_failures_record_every_fire_exactly_once(
    dynamodb_local: str, dynamodb_store_factory: Callable[..., DynamoDBStore]
) -> None:
    alerts, batches = workload(seed=7)
    reference = ReferenceIndex(alerts)
    expected = [f for batch in batches for f in reference.match_batch(
        [t.symbol for t in batch], [t.price for t in batch], [t.ts for t in batch])]  # fmt: skip
    assert len(expected) > 150
    assert any(f.alert_id.startswith("wall") for f in expected)

    direct = dynamodb_store_factory()
    async with direct:
        await direct.init()
        async with FaultProxy(dynamodb_local, rate=0.2, seed=11) as proxy:
            # Few botocore attempts, so some requests fail for good and whole batches are replayed.
            flaky = DynamoDBStore(direct.table_name, region="us-east-1", endpoint_url=proxy.url, max_attempts=3,
                                  read_timeout_s=5)  # fmt: skip
            async with flaky:
                await flaky.put_alerts(alerts)
                replays = await run_engine(flaky, batches)
                replays += await run_engine(flaky, batches)  # the whole stream delivered twice
        recorded = await direct.list_fires()

    assert sum(proxy.injected.values()) > 30
    assert set(proxy.injected) == {"throttle", "provisioned", "http500", "drop_before", "drop_after", "partial_batch"}
    keys = [f.key for f in recorded]
    assert len(keys) == len(set(keys)), "a fire was recorded twice"
    assert sorted(recorded, key=lambda f: f.key) == sorted(expected, key=lambda f: f.key)
    print(f"faults injected: {dict(proxy.injected)}; batches replayed: {replays}")
