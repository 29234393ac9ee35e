"""PriceWebhookProcessor, called through adapters/lambda/price_webhook.py with documented event shapes."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptoalerts.aws.batches import TickBatch, build_batches, parse_tick_body
from cryptoalerts.aws.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify
from cryptoalerts.aws.webhook import WebhookFunction, WebhookSettings
from cryptoalerts.errors import ValidationError
from cryptoalerts.model import Tick
from lambda_support import NOW, SECRET, FakeContext, RecordingInvoker, handler_module, http_event, load_event

TICKS = [{"symbol": "BTC-USD", "price": 65000.5, "ts": NOW - 1}, {"symbol": "ETH-USD", "price": "3150.25", "ts": NOW}]


@pytest.fixture
def invoker() -> RecordingInvoker:
    return RecordingInvoker()


@pytest.fixture
def webhook(invoker: RecordingInvoker) -> Iterator[ModuleType]:
    module = handler_module("price_webhook")
    module.APP = WebhookFunction(
        settings=WebhookSettings(max_body_bytes=64 * 1024), secret=SECRET, invoker=invoker, clock=lambda: NOW
    )
    yield module
    module.APP.close()


def call(module: ModuleType, event: Any) -> tuple[int, dict[str, Any], dict[str, Any]]:
    response = module.handler(event, FakeContext())
    return response["statusCode"], json.loads(response["body"]), response


@pytest.mark.parametrize("shape", ["http_api_v2", "rest_api_v1", "function_url"])
@pytest.mark.parametrize("base64_body", [False, True])
def test_signed_ticks_are_queued_for_the_matcher(
    webhook: ModuleType, invoker: RecordingInvoker, shape: str, base64_body: bool
) -> None:
    body = json.dumps({"ticks": TICKS}).encode()
    status, payload, response = call(webhook, http_event(shape, body, base64_body=base64_body))
    assert status == 202
    assert payload["accepted"] == 2
    assert [name for name, _ in invoker.calls] == ["AlertMatcher"]
    sent = TickBatch.from_payload(json.loads(invoker.calls[0][1]))
    assert [(t.symbol, t.price, t.ts) for t in sent.ticks] == [("BTC-USD", 65000.5, NOW - 1), ("ETH-USD", 3150.25, NOW)]
    assert payload["batches"] == [{"batch_id": sent.batch_id, "ticks": 2, "request_id": "req-1"}]
    # v1 proxy integrations reject a response without multiValueHeaders; 2.0 needs none.
    assert ("multiValueHeaders" in response) == (shape == "rest_api_v1")
    assert response["headers"]["content-type"] == "application/json"
    assert response["isBase64Encoded"] is False


@pytest.mark.parametrize("shape", ["http_api_v2", "rest_api_v1", "function_url"])
def test_fixture_bodies_are_accepted_in_all_three_body_forms(webhook: ModuleType, shape: str) -> None:
    event = load_event(shape)
    raw = event["body"]
    body = base64.b64decode(raw) if event["isBase64Encoded"] else raw.encode()
    # Re-sign the fixture's own body in the fixture's own encoding.
    signed = http_event(shape, body, base64_body=event["isBase64Encoded"])
    status, payload, _ = call(webhook, signed)
    assert (status, payload["accepted"]) == (202, 1)


@pytest.mark.parametrize("lowercase", [True, False])
@pytest.mark.parametrize("shape", ["http_api_v2", "rest_api_v1"])
def test_signature_headers_are_found_in_any_case(webhook: ModuleType, shape: str, lowercase: bool) -> None:
    event = http_event(shape, json.dumps(TICKS).encode(), lowercase=lowercase)
    assert call(webhook, event)[0] == 202


def test_same_body_gives_same_batch_id(webhook: ModuleType, invoker: RecordingInvoker) -> None:
    body = json.dumps(TICKS).encode()
    ids = {call(webhook, http_event("http_api_v2", body))[1]["batches"][0]["batch_id"] for _ in range(3)}
    assert len(ids) == 1
    assert len(invoker.calls) == 3  # the webhook does not dedupe: the engine's commits make retries harmless


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda e: e["headers"].pop("x-cryptoalerts-signature"), "missing"),
        (lambda e: e["headers"].update({"x-cryptoalerts-signature": "v1=" + "0" * 64}), "does not match"),
        (lambda e: e["headers"].update({"x-cryptoalerts-timestamp": "yesterday"}), "Unix seconds"),
        (lambda e: e.update({"body": e["body"].replace("65000.5", "65000.6")}), "does not match"),
    ],
)
def test_bad_signatures_get_401(webhook: ModuleType, invoker: RecordingInvoker, mutate: Any, reason: str) -> None:
    event = http_event("http_api_v2", json.dumps(TICKS).encode())
    mutate(event)
    status, payload, _ = call(webhook, event)
    assert status == 401
    assert reason in payload["error"]
    assert invoker.calls == []


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamps_more_than_five_minutes_off_are_refused(webhook: ModuleType, skew: int) -> None:
    event = http_event("http_api_v2", json.dumps(TICKS).encode(), now=NOW + skew)
    status, payload, _ = call(webhook, event)
    assert status == 401
    assert "300 s" in payload["error"]
    assert call(webhook, http_event("http_api_v2", json.dumps(TICKS).encode(), now=NOW + 299))[0] == 202


def test_a_second_signature_for_secret_rotation_is_accepted() -> None:
    body, ts = b"{}", "1710270240"
    both = f"{sign(b'old', ts, body)},{sign(b'new', ts, body)}"
    headers = {TIMESTAMP_HEADER.lower(): ts, SIGNATURE_HEADER.lower(): both}
    verify(b"new", lambda name: headers.get(name.lower()), body, NOW)


@pytest.mark.parametrize(
    ("ticks", "field"),
    [
        ([{"symbol": "BTC-USD", "price": -1, "ts": NOW}], "ticks[0].price"),
        ([TICKS[0], {"symbol": "BTC-USD", "price": 1}], "ticks[1].ts"),
        ({"symbol": "BTC-USD", "price": "abc", "ts": NOW}, "price"),
        ({"ticks": [TICKS[0]], "extra": 1}, "extra"),
        ([], "ticks"),
    ],
)
def test_malformed_ticks_get_400_naming_the_field(
    webhook: ModuleType, invoker: RecordingInvoker, ticks: Any, field: str
) -> None:
    status, payload, _ = call(webhook, http_event("rest_api_v1", json.dumps(ticks).encode()))
    assert status == 400
    assert payload["field"] == field
    assert invoker.calls == []


def test_not_json_gets_400(webhook: ModuleType) -> None:
    status, payload, _ = call(webhook, http_event("http_api_v2", b"{not json"))
    assert (status, payload["field"]) == (400, "body")


def test_oversized_body_gets_413(webhook: ModuleType, invoker: RecordingInvoker) -> None:
    body = json.dumps([TICKS[0]] * 2000).encode()
    assert len(body) > 64 * 1024
    assert call(webhook, http_event("http_api_v2", body))[0] == 413
    assert invoker.calls == []


@pytest.mark.parametrize("shape", ["http_api_v2", "rest_api_v1"])
def test_wrong_method_gets_405(webhook: ModuleType, shape: str) -> None:
    status, _, response = call(webhook, http_event(shape, b"", method="GET"))
    assert status == 405
    assert response["headers"]["allow"] == "POST"


def test_missing_secret_is_a_500_not_a_pass(invoker: RecordingInvoker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("WEBHOOK_SECRET_ARN", raising=False)
    app = WebhookFunction(invoker=invoker, clock=lambda: NOW)
    try:
        response = app(http_event("http_api_v2", json.dumps(TICKS).encode()), FakeContext())
    finally:
        app.close()
    assert response["statusCode"] == 500
    assert invoker.calls == []


def test_secret_from_environment(invoker: RecordingInvoker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET", SECRET.decode())
    app = WebhookFunction(invoker=invoker, clock=lambda: NOW)
    try:
        assert app(http_event("http_api_v2", json.dumps(TICKS).encode()), FakeContext())["statusCode"] == 202
    finally:
        app.close()


def test_big_batches_are_split_under_the_limit(invoker: RecordingInvoker) -> None:
    limit = 4096
    app = WebhookFunction(
        settings=WebhookSettings(async_limit_bytes=limit), secret=SECRET, invoker=invoker, clock=lambda: NOW
    )
    ticks = [{"symbol": f"S{i % 7}", "price": 100 + i, "ts": NOW - 1000 + i} for i in range(500)]
    try:
        response = app(http_event("http_api_v2", json.dumps(ticks).encode()), FakeContext())
    finally:
        app.close()
    assert response["statusCode"] == 202
    assert len(invoker.calls) > 1
    assert all(len(payload) <= limit // 2 for _, payload in invoker.calls)
    sent = [t for _, p in invoker.calls for t in TickBatch.from_payload(json.loads(p)).ticks]
    assert sorted((t.symbol, t.ts) for t in sent) == sorted((t["symbol"], float(t["ts"])) for t in ticks)


@given(
    st.lists(
        st.builds(
            Tick,
            st.text(st.characters(codec="utf-8", exclude_categories=["Cc", "Cs"]), min_size=1, max_size=20).filter(
                str.strip
            ),
            st.floats(1e-6, 1e9),
            st.floats(0, 2e9),
        ),
        min_size=1,
        max_size=60,
    ),
    st.integers(300, 3000),
)
def test_build_batches_keeps_every_tick_and_every_limit(ticks: list[Tick], limit: int) -> None:
    batches = build_batches(ticks, limit)
    assert all(len(b.to_payload()) <= limit for b in batches)
    sent = sorted((t.symbol, t.ts, t.price) for b in batches for t in b.ticks)
    assert sent == sorted((t.symbol, t.ts, t.price) for t in ticks)
    assert [TickBatch.from_payload(json.loads(b.to_payload())) for b in batches] == batches


# -- bad input, thrown at the handler at random -------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_tickish = st.fixed_dictionaries(
    {"symbol": st.one_of(st.text(max_size=6), st.integers(), st.none())},
    optional={"price": _json, "ts": _json, "note": _json},
)
_bodies = st.one_of(
    st.binary(max_size=80),
    _json.map(lambda v: json.dumps(v).encode()),
    st.lists(_tickish, max_size=4).map(lambda v: json.dumps(v).encode()),
    st.lists(_tickish, max_size=3).map(lambda v: json.dumps({"ticks": v}).encode()),
    st.just(b"[" * 5000),
)


@st.composite
def _bad_events(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["signed", "unsigned", "garbage", "mangled"]))
    if kind == "garbage":
        return draw(_json)
    shape = draw(st.sampled_from(["http_api_v2", "rest_api_v1", "function_url"]))
    body = draw(_bodies)
    if kind == "unsigned":
        event = load_event(shape)
        event["body"] = body.decode("latin-1")
        names = st.sampled_from(["X-CryptoAlerts-Signature", "x-cryptoalerts-timestamp"])
        event["headers"].update(draw(st.dictionaries(names, st.text(max_size=70))))
        return event
    event = http_event(shape, body, base64_body=True, lowercase=draw(st.booleans()))
    if kind == "mangled":
        key = draw(st.sampled_from(["headers", "body", "requestContext", "isBase64Encoded", "version", "httpMethod"]))
        event[key] = draw(_json)
    return event


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(event=_bad_events())
def test_bad_input_always_gets_a_json_4xx_and_queues_nothing(
    webhook: ModuleType, invoker: RecordingInvoker, event: Any
) -> None:
    before = len(invoker.calls)
    response = webhook.handler(event, FakeContext())
    status = response["statusCode"]
    payload = json.loads(response["body"])
    if status == 202:  # random input can be a valid tick batch; then it is queued, once
        assert len(invoker.calls) == before + 1
        return
    assert 400 <= status < 500, (status, payload)
    assert isinstance(payload["error"], str)
    assert payload["error"]
    assert len(invoker.calls) == before


def test_parse_tick_body_forms() -> None:
    one = parse_tick_body(b'{"symbol": "A", "price": 1, "ts": 2}')
    assert parse_tick_body(b'[{"symbol": "A", "price": 1, "ts": 2}]') == one
    assert parse_tick_body(b'{"ticks": [{"symbol": "A", "price": 1, "ts": 2}]}') == one
    with pytest.raises(ValidationError, match="body"):
        parse_tick_body(b'"just a string"')
