"""Each function's declared IAM covers every DynamoDB request its code really makes.

The matcher and ProcessedAlerts apps run their handlers against DynamoDB Local
through a recording proxy; every request is turned into what IAM checks (the
action, on the table or on ``/index/*``; a transaction as its item actions) and
must be granted by a ``Permission`` in that handler file's ``DEPLOY``. A code path
that starts to query an index, or a store call that needs a new action, fails here
before it fails in AWS with ``AccessDenied``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType
from typing import Any

import pytest

from cryptoalerts.aws.dynamodb import DynamoDBStore
from cryptoalerts.aws.matcher import MatcherFunction, MatcherSettings
from cryptoalerts.aws.processed import ProcessedFunction, ProcessedSettings
from cryptoalerts.aws.publish import MemoryPublisher
from cryptoalerts.aws.results import shape_result
from cryptoalerts.deploy.spec import FunctionSpec
from cryptoalerts.model import Alert, Fired
from cryptoalerts.state import TickCounts
from faultproxy import FaultProxy
from lambda_support import FakeContext, handler_module, load_event

pytestmark = pytest.mark.integration

ALERTS = [
    Alert(id="up", symbol="BTC-USD", condition="crosses_up", threshold=100),
    Alert(id="again", symbol="BTC-USD", condition="crosses", threshold=103, trigger="rearm"),
    Alert(id="eth", symbol="ETH-USD", condition="below", threshold=50),
]
BATCH = {
    "batch_id": "b1",
    "ticks": [
        {"symbol": "BTC-USD", "price": 99, "ts": 1000},
        {"symbol": "BTC-USD", "price": 106, "ts": 1001},
        {"symbol": "BTC-USD", "price": 101, "ts": 1002},
        {"symbol": "ETH-USD", "price": 49, "ts": 1000},
    ],
}


def granted(spec: FunctionSpec, action: str, where: str) -> bool:
    suffix = "/index/*" if where == "index" else ""
    return any(p.resource == "AlertsTable" and p.suffix == suffix and action in p.actions for p in spec.permissions)


def missing(spec: FunctionSpec, proxy: FaultProxy) -> list[tuple[str, str]]:
    return sorted(need for need in proxy.iam if not granted(spec, *need))


@pytest.fixture
def worker() -> Iterator[ThreadPoolExecutor]:
    """One thread per app, like one Lambda execution environment (its loop lives there)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        yield pool


async def call(pool: ThreadPoolExecutor, fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)


def success_record(response: dict[str, Any]) -> dict[str, Any]:
    record = load_event("destination_success")
    record["responsePayload"] = response
    return record


async def test_each_function_is_granted_every_dynamodb_request_it_makes(
    dynamodb_local: str, dynamodb_store_factory: Callable[..., DynamoDBStore], worker: ThreadPoolExecutor
) -> None:
    async with dynamodb_store_factory() as setup:
        await setup.init()
        await setup.put_alerts(ALERTS)
    async with FaultProxy(dynamodb_local, rate=0.0) as proxy:
        url = f"dynamodb://{setup.table_name}?region=us-east-1&endpoint_url={proxy.url}"
        matcher: ModuleType = handler_module("alert_matcher")
        matcher.APP = MatcherFunction(settings=MatcherSettings(url))
        context = FakeContext(function_name="AlertMatcher")
        try:
            first = await call(worker, matcher.handler, BATCH, context)  # cold: load, match, commit
            await call(worker, matcher.handler, BATCH, context)  # warm: change feed; replayed fires by range
        finally:
            await call(worker, matcher.APP.close)
        assert first["count"] == 4  # up, again (seq 1 and 2), eth
        assert proxy.iam[("dynamodb:Query", "index")] > 0
        assert missing(matcher.DEPLOY, proxy) == []

        proxy.iam.clear()
        fires = [Fired.from_dict(f) for f in first["fired"]]
        counts = TickCounts(4, 0, 0)
        # the three forms a matcher result takes: inline, by key, by reference (symbol + ts range)
        records = [success_record(shape_result("b1", fires, counts, budget)) for budget in (100_000, 400, 1)]
        assert [next(k for k in ("fired", "fired_keys", "fired_ref") if k in r["responsePayload"]) for r in records] \
            == ["fired", "fired_keys", "fired_ref"]  # fmt: skip
        processed: ModuleType = handler_module("processed_alerts")
        publisher = MemoryPublisher()
        processed.APP = ProcessedFunction(settings=ProcessedSettings(url, None), publisher=publisher)
        context = FakeContext(function_name="ProcessedAlerts")
        try:
            results = [await call(worker, processed.handler, record, context) for record in records]
        finally:
            await call(worker, processed.APP.close)
        assert [(r["published"], r["duplicates"]) for r in results] == [(4, 0), (0, 4), (0, 4)]
        assert sorted(publisher.keys) == sorted(f.key for f in fires)
        assert ("dynamodb:Query", "index") in proxy.iam  # fired_ref reads the fires GSI
        assert missing(processed.DEPLOY, proxy) == []
