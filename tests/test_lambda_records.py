"""The destination record model, the matcher's sized result, and the matcher/processed handlers."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from cryptoalerts.aws.batches import TickBatch
from cryptoalerts.aws.destinations import InvocationRecord
from cryptoalerts.aws.matcher import MatcherFunction, MatcherSettings, store_url_from_env
from cryptoalerts.aws.processed import (
    DEFAULT_LEASE_S,
    NotificationsPendingError,
    ProcessedFunction,
    ProcessedSettings,
    resolve_fires,
)
from cryptoalerts.aws.publish import MemoryPublisher
from cryptoalerts.aws.results import MatcherResult, shape_result
from cryptoalerts.engine import AlertEngine
from cryptoalerts.errors import ValidationError
from cryptoalerts.model import Alert, Fired, Tick
from cryptoalerts.stores import MemoryStore
from lambda_support import FakeContext, handler_module, load_event


# -- the record ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["destination_failure", "destination_success"])
def test_documented_records_parse_and_serialise_back_unchanged(name: str) -> None:
    raw = load_event(name)
    record = InvocationRecord.from_dict(raw)
    assert record.to_dict() == raw
    assert record.request_context.qualifier == "$LATEST"
    assert record.succeeded == (name == "destination_success")


def test_failure_record_fields() -> None:
    record = InvocationRecord.from_dict(load_event("destination_failure"))
    ctx = record.request_context
    assert (ctx.condition, ctx.approximate_invoke_count, ctx.function_name) == ("RetriesExhausted", 3, "my-function")
    assert record.response_context is not None
    assert record.response_context.function_error == "Unhandled"


def test_response_parts_are_optional_and_null_differs_from_absent() -> None:
    raw = load_event("destination_failure")
    raw["requestContext"]["condition"] = "ZeroReservedConcurrency"
    del raw["responseContext"], raw["responsePayload"]
    record = InvocationRecord.from_dict(raw)
    assert (record.response_context, record.has_response) == (None, False)
    assert record.to_dict() == raw
    raw["responsePayload"] = None
    assert InvocationRecord.from_dict(raw).has_response is True


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("requestContext", "functionArn"), "arn:aws:lambda:us-east-1:123456789012:function:f", "functionArn"),
        (("requestContext", "condition"), "Maybe", "requestContext.condition"),
        (("requestContext", "approximateInvokeCount"), "3", "approximateInvokeCount"),
        (("requestContext", "approximateInvokeCount"), True, "approximateInvokeCount"),
        (("timestamp",), "yesterday", "timestamp"),
        (("responseContext",), [], "responseContext"),
        (("version",), None, "version"),
    ],
)
def test_malformed_records_name_the_field(path: tuple[str, ...], value: Any, field: str) -> None:
    raw = load_event("destination_success")
    target = raw
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError, match=field):
        InvocationRecord.from_dict(raw)


def test_record_without_request_payload_is_rejected() -> None:
    raw = load_event("destination_success")
    del raw["requestPayload"]
    with pytest.raises(ValidationError, match="requestPayload"):
        InvocationRecord.from_dict(raw)


# -- the sized result ------------------------------------------------------------------------
async def _fired_engine(n: int) -> tuple[MemoryStore, list[Any], Any]:
    store = MemoryStore()
    await store.init()
    await store.put_alerts(
        [Alert(id=f"a{i:03d}", symbol=f"S{i % 3}", condition="above", threshold=10 + i) for i in range(n)]
    )
    async with AlertEngine(store) as engine:
        ticks = [Tick(f"S{k}", 1000, 100 + k) for k in range(3)]
        result = await engine.process(ticks)
    return store, result.fired, result.counts


@pytest.mark.parametrize(("budget", "form"), [(100_000, "fired"), (1500, "fired_keys"), (200, "fired_ref")])
async def test_results_take_the_richest_form_that_fits(budget: int, form: str) -> None:
    store, fired, counts = await _fired_engine(60)
    assert len(fired) == 60
    shaped = shape_result("b1", fired, counts, budget)
    assert form in shaped
    assert shaped["count"] == 60
    if form != "fired_ref":
        assert len(json.dumps(shaped, separators=(",", ":"))) <= budget
    parsed = MatcherResult.from_payload(json.loads(json.dumps(shaped)))
    assert sorted(f.key for f in await resolve_fires(parsed, store)) == sorted(f.key for f in fired)


@pytest.mark.parametrize(
    "payload", [None, {"batch_id": "b"}, {"batch_id": "b", "count": 1}, {"batch_id": "b", "count": 1, "fired": 3}]
)
def test_malformed_results_are_rejected(payload: Any) -> None:
    with pytest.raises(ValidationError, match="responsePayload"):
        MatcherResult.from_payload(payload)


# -- AlertMatcher through its handler file ----------------------------------------------------
@pytest.fixture
def matcher() -> Iterator[tuple[ModuleType, MemoryStore]]:
    module = handler_module("alert_matcher")
    store = MemoryStore()
    app = MatcherFunction(settings=MatcherSettings("memory://"), store=store)
    app.container.run(store.init())
    app.container.run(store.put_alerts([Alert(id="a1", symbol="BTC-USD", condition="crosses_up", threshold=65000)]))
    module.APP = app
    yield module, store
    app.close()


def test_matcher_records_fires_and_a_duplicate_event_finds_them_again(
    matcher: tuple[ModuleType, MemoryStore],
) -> None:
    module, store = matcher
    event = load_event("destination_success")["requestPayload"]
    context = FakeContext(function_name="AlertMatcher")
    first = module.handler(copy.deepcopy(event), context)
    assert first["counts"] == {"accepted": 2, "stale": 0, "duplicate": 0}
    assert [(f["alert_id"], f["seq"]) for f in first["fired"]] == [("a1", 1)]
    again = module.handler(copy.deepcopy(event), context)  # Lambda delivered the event twice
    assert again["counts"]["accepted"] == 0
    assert [(f["alert_id"], f["seq"]) for f in again["fired"]] == [("a1", 1)]  # re-found, not re-fired
    assert [f.key for f in module.APP.container.run(store.list_fires())] == [("a1", 1)]


def test_a_warm_matcher_sees_alerts_added_since_its_cold_start(matcher: tuple[ModuleType, MemoryStore]) -> None:
    module, store = matcher
    context = FakeContext(function_name="AlertMatcher")
    batch = TickBatch("b1", (Tick("ETH-USD", 3000, 1),))
    module.handler(json.loads(batch.to_payload()), context)
    module.APP.container.run(store.put_alert(Alert(id="e1", symbol="ETH-USD", condition="above", threshold=3100)))
    batch = TickBatch("b2", (Tick("ETH-USD", 3200, 2),))
    assert [f["alert_id"] for f in module.handler(json.loads(batch.to_payload()), context)["fired"]] == ["e1"]


@pytest.mark.parametrize("event", [{}, {"batch_id": "b", "ticks": [{"symbol": "X", "price": 0, "ts": 1}]}, []])
def test_matcher_raises_on_a_bad_event_so_lambda_retries_and_routes_it(
    matcher: tuple[ModuleType, MemoryStore], event: Any
) -> None:
    module, _ = matcher
    with pytest.raises(ValidationError):
        module.handler(event, FakeContext(function_name="AlertMatcher"))


def test_store_url_from_environment() -> None:
    assert store_url_from_env({"CRYPTOALERTS_TABLE": "Alerts"}) == "dynamodb://Alerts"
    assert store_url_from_env({"CRYPTOALERTS_STORE_URL": "sqlite:///x.db", "CRYPTOALERTS_TABLE": "A"}) == "sqlite:///x.db"
    with pytest.raises(ValidationError, match="CRYPTOALERTS_STORE_URL"):
        store_url_from_env({})


# -- ProcessedAlerts through its handler file -------------------------------------------------
@pytest.fixture
def processed() -> Iterator[tuple[ModuleType, MemoryPublisher]]:
    module = handler_module("processed_alerts")
    store, publisher = MemoryStore(), MemoryPublisher()
    app = ProcessedFunction(settings=ProcessedSettings("memory://", None), store=store, publisher=publisher)
    app.container.run(store.init())
    module.APP = app
    yield module, publisher
    app.close()


def test_processed_publishes_once_per_fire(processed: tuple[ModuleType, MemoryPublisher]) -> None:
    module, publisher = processed
    record = load_event("destination_success")
    context = FakeContext(function_name="ProcessedAlerts")
    assert module.handler(record, context)["published"] == 1
    assert module.handler(record, context) == {
        "condition": "Success",
        "batch_id": record["responsePayload"]["batch_id"],
        "published": 0,
        "duplicates": 1,
    }
    assert publisher.keys == [("a1", 1)]


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"Records": [{"eventSource": "aws:sqs"}]},
        {**load_event("destination_success"), "responsePayload": {"unexpected": True}},
        {k: v for k, v in load_event("destination_success").items() if k != "responsePayload"},
    ],
)
def test_processed_fails_loudly_on_records_it_cannot_parse(
    processed: tuple[ModuleType, MemoryPublisher], event: Any, caplog: pytest.LogCaptureFixture
) -> None:
    module, publisher = processed
    with pytest.raises(ValidationError):
        module.handler(event, FakeContext(function_name="ProcessedAlerts"))
    assert publisher.messages == []
    (error,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert error.getMessage() == "destination record failed"
    assert error.exc_info is not None
    assert error.exc_info[0] is ValidationError
    assert error.record_keys == (sorted(event)[:8] if isinstance(event, dict) else "list")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class DownPublisher(MemoryPublisher):
    """SNS refusing every message while ``down``."""

    down = True

    async def publish(self, fire: Fired) -> None:
        if self.down:
            raise ConnectionError("sns unreachable")
        await super().publish(fire)


def test_processed_republishes_a_failed_publish_after_the_lease_only() -> None:
    module = handler_module("processed_alerts")
    store, publisher, clock = MemoryStore(), DownPublisher(), Clock(1_000.0)
    settings = ProcessedSettings("memory://", None, lease_s=120.0)
    module.APP = app = ProcessedFunction(settings=settings, store=store, publisher=publisher, clock=clock)
    try:
        app.container.run(store.init())
        record, context = load_event("destination_success"), FakeContext(function_name="ProcessedAlerts")
        with pytest.raises(NotificationsPendingError) as first:
            module.handler(record, context)  # Lambda retries the record
        assert (first.value.failed, first.value.held) == ([("a1", 1)], [])
        assert isinstance(first.value.__cause__, ConnectionError)
        publisher.down = False
        clock.now += 60  # Lambda's first retry: the failed claim still holds, nothing is sent twice
        with pytest.raises(NotificationsPendingError) as second:
            module.handler(record, context)
        assert (second.value.failed, second.value.held) == ([], [("a1", 1)])
        assert publisher.keys == []
        clock.now += 120  # the second retry, after the lease: sent now
        assert module.handler(record, context)["published"] == 1
        clock.now += 1_000  # a late duplicate delivery: confirmed, never sent again
        assert module.handler(record, context)["duplicates"] == 1
        assert publisher.keys == [("a1", 1)]
    finally:
        app.close()


def test_processed_lease_comes_from_the_environment() -> None:
    env = {"CRYPTOALERTS_TABLE": "Alerts"}
    assert ProcessedSettings.from_env(env).lease_s == DEFAULT_LEASE_S == 120.0
    assert ProcessedSettings.from_env({**env, "CRYPTOALERTS_NOTIFICATION_LEASE_S": "45.5"}).lease_s == 45.5
    for bad in ("soon", "0", "-5"):
        with pytest.raises(ValidationError, match="CRYPTOALERTS_NOTIFICATION_LEASE_S"):
            ProcessedSettings.from_env({**env, "CRYPTOALERTS_NOTIFICATION_LEASE_S": bad})


def test_processed_skips_failure_records(processed: tuple[ModuleType, MemoryPublisher]) -> None:
    module, publisher = processed
    result = module.handler(load_event("destination_failure"), FakeContext(function_name="ProcessedAlerts"))
    assert result["condition"] == "RetriesExhausted"
    assert publisher.messages == []
