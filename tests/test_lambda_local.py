"""End to end through the local runtime: real HTTP in, the handler files, Lambda's async semantics."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cryptoalerts.aws.destinations import InvocationRecord
from cryptoalerts.aws.local import LocalRuntime, http_api_event
from cryptoalerts.aws.publish import MemoryPublisher
from cryptoalerts.aws.signing import signed_headers
from cryptoalerts.model import Alert, Fired
from cryptoalerts.stores import open_store
from lambda_support import SECRET

SCALE = 0.001  # Lambda's 1 and 2 minute retry delays become 60 and 120 ms

ALERTS = [
    Alert(id="up-100", symbol="BTC-USD", condition="crosses_up", threshold=100),
    Alert(id="above-105", symbol="BTC-USD", condition="above", threshold=105),
    Alert(id="rearm-103", symbol="BTC-USD", condition="crosses", threshold=103, trigger="rearm"),
    Alert(id="eth-down", symbol="ETH-USD", condition="below", threshold=50),
    Alert(id="never", symbol="ETH-USD", condition="above", threshold=10_000),
]
TICKS = [
    {"symbol": "BTC-USD", "price": 99, "ts": 1000},
    {"symbol": "BTC-USD", "price": 106, "ts": 1001},  # up-100, above-105, rearm-103 (seq 1)
    {"symbol": "BTC-USD", "price": 101, "ts": 1002},  # rearm-103 (seq 2)
    {"symbol": "BTC-USD", "price": 104, "ts": 1003},  # rearm-103 (seq 3)
    {"symbol": "ETH-USD", "price": 49, "ts": 1000},  # eth-down
]
EXPECTED = {("up-100", 1), ("above-105", 1), ("rearm-103", 1), ("rearm-103", 2), ("rearm-103", 3), ("eth-down", 1)}


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'alerts.db'}"


async def seed(store_url: str, alerts: list[Alert] = ALERTS) -> None:
    async with open_store(store_url) as store:
        await store.init()
        await store.put_alerts(alerts)


async def post(url: str, ticks: Any, *, secret: bytes = SECRET) -> tuple[int, dict[str, Any]]:
    body = json.dumps({"ticks": ticks}).encode()
    headers = {**signed_headers(secret, body, time.time()), "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session, session.post(f"{url}/ticks", data=body, headers=headers) as resp:
        return resp.status, await resp.json()


def notified(runtime: LocalRuntime) -> Counter[tuple[str, int]]:
    assert isinstance(runtime.publisher, MemoryPublisher)
    return Counter(runtime.publisher.keys)


async def stored_fires(store_url: str) -> set[tuple[str, int]]:
    async with open_store(store_url) as store:
        return {f.key for f in await store.list_fires()}


async def test_signed_post_notifies_each_fire_once(store_url: str) -> None:
    await seed(store_url)
    async with LocalRuntime(store_url, secret=SECRET, time_scale=SCALE) as runtime:
        status, body = await post(runtime.url, TICKS)
        assert status == 202
        assert body["accepted"] == len(TICKS)
        await runtime.drain()
        assert notified(runtime) == Counter(EXPECTED)
        assert runtime.failures == runtime.unhandled == runtime.delivery_failures == []
        # the message attributes carry the idempotency key
        message, attrs = runtime.publisher.messages[0]  # type: ignore[attr-defined]
        assert (attrs["alert_id"], int(attrs["seq"])) == (message["alert_id"], message["seq"])
    assert await stored_fires(store_url) == EXPECTED


async def test_repeated_posts_and_duplicate_deliveries_still_notify_once(store_url: str) -> None:
    await seed(store_url)
    async with LocalRuntime(store_url, secret=SECRET, time_scale=SCALE, duplicate={"AlertMatcher"}) as runtime:
        for _ in range(3):
            assert (await post(runtime.url, TICKS))[0] == 202
        await runtime.drain()
        assert runtime.invocations["AlertMatcher"] == 6  # 3 posts, each event delivered twice
        assert notified(runtime) == Counter(EXPECTED)


async def test_a_matcher_failing_twice_then_succeeding_notifies_once(store_url: str) -> None:
    await seed(store_url)
    async with LocalRuntime(store_url, secret=SECRET, time_scale=SCALE) as runtime:
        matcher = runtime.function("AlertMatcher").module
        real, attempts, records = matcher.handler, [], []

        def flaky(event: Any, context: Any) -> Any:
            attempts.append(context.aws_request_id)
            if len(attempts) <= 2:
                raise ConnectionError("store unreachable")
            return real(event, context)

        processed = runtime.function("ProcessedAlerts").module
        real_processed = processed.handler

        def spy(event: Any, context: Any) -> Any:
            records.append(event)
            return real_processed(event, context)

        matcher.handler, processed.handler = flaky, spy
        started = time.monotonic()
        assert (await post(runtime.url, TICKS))[0] == 202
        await runtime.drain()
        assert time.monotonic() - started >= (60 + 120) * SCALE  # the documented delays, scaled
        assert len(attempts) == 3
        assert len(set(attempts)) == 1  # a retry keeps the request id
        assert notified(runtime) == Counter(EXPECTED)
        (record,) = [InvocationRecord.from_dict(r) for r in records]
        assert record.succeeded
        assert record.request_context.approximate_invoke_count == 3
        assert record.request_context.function_arn.endswith(":function:AlertMatcher:$LATEST")


class FailingOncePublisher(MemoryPublisher):
    """SNS that is down for the first publish call, then works: a transient outage."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[tuple[str, int]] = []

    async def publish(self, fire: Fired) -> None:
        if not self.refused:
            self.refused.append(fire.key)
            raise ConnectionError("sns unreachable")
        await super().publish(fire)


async def test_a_publish_failing_once_loses_no_notification_and_duplicates_none(store_url: str) -> None:
    await seed(store_url)
    publisher = FailingOncePublisher()
    async with LocalRuntime(store_url, secret=SECRET, time_scale=SCALE, publisher=publisher) as runtime:
        assert (await post(runtime.url, TICKS))[0] == 202
        await runtime.drain()
        (refused,) = publisher.refused
        assert refused in EXPECTED
        assert notified(runtime) == Counter(EXPECTED)  # the refused fire arrived too, and nothing twice
        assert publisher.keys[-1] == refused  # sent by Lambda's retry of the record, after the others
        assert runtime.invocations["ProcessedAlerts"] >= 2
        assert runtime.unhandled == runtime.failures == []  # the retry succeeded: no record given up
    async with open_store(store_url) as store:
        assert all([await store.notification_confirmed(*key) for key in EXPECTED])


async def test_a_matcher_that_always_fails_ends_in_the_failure_queue(store_url: str, tmp_path: Path) -> None:
    await seed(store_url)
    failure_file = tmp_path / "failures.jsonl"
    async with LocalRuntime(store_url, secret=SECRET, time_scale=SCALE, failure_path=failure_file) as runtime:

        def broken(event: Any, context: Any) -> Any:
            raise RuntimeError("boom")

        runtime.function("AlertMatcher").module.handler = broken
        status, body = await post(runtime.url, TICKS)
        assert status == 202
        await runtime.drain()
        assert notified(runtime) == Counter()
        (raw,) = runtime.failures
        record = InvocationRecord.from_dict(raw)
        assert record.request_context.condition == "RetriesExhausted"
        assert record.request_context.approximate_invoke_count == 3  # 1 + MaximumRetryAttempts (2)
        assert record.response_context is not None
        assert record.response_context.function_error == "Unhandled"
        assert record.response_payload["errorMessage"] == "boom"
        assert record.request_payload["batch_id"] == body["batches"][0]["batch_id"]
        assert [json.loads(line) for line in failure_file.read_text().splitlines()] == [raw]
    assert await stored_fires(store_url) == set()


async def test_an_event_older_than_the_maximum_age_is_given_up(store_url: str) -> None:
    await seed(store_url)
    scale = 0.5 / 3600  # maximum age 3600 s -> 0.5 s; retry delays 8 and 17 ms
    async with LocalRuntime(store_url, secret=SECRET, time_scale=scale, serve=False) as runtime:

        def slow_failure(event: Any, context: Any) -> Any:
            time.sleep(0.3)  # attempt 2 starts at ~0.31 s (< 0.5 s) and ends past the maximum age
            raise TimeoutError("slow")

        runtime.function("AlertMatcher").module.handler = slow_failure
        await runtime.invoke_async("AlertMatcher", json.dumps({"batch_id": "b", "ticks": TICKS}).encode())
        await runtime.drain()
        (raw,) = runtime.failures
        assert raw["requestContext"]["condition"] == "EventAgeExceeded"
        assert raw["requestContext"]["approximateInvokeCount"] == 2


async def test_results_too_big_for_the_record_go_by_reference(store_url: str) -> None:
    many = [Alert(id=f"a{i:03d}", symbol="BTC-USD", condition="above", threshold=100 + i / 100) for i in range(60)]
    await seed(store_url, many)
    limit = 3000  # batches get <= 1500 bytes; 60 inline fires would not fit in the record
    async with LocalRuntime(store_url, secret=SECRET, time_scale=SCALE, async_limit_bytes=limit) as runtime:
        processed = runtime.function("ProcessedAlerts").module
        real, records = processed.handler, []
        processed.handler = lambda event, context: records.append(event) or real(event, context)
        assert (await post(runtime.url, [{"symbol": "BTC-USD", "price": 200, "ts": 5}]))[0] == 202
        await runtime.drain()
        assert runtime.delivery_failures == []
        assert all(len(json.dumps(r)) <= limit for r in records)
        assert {"fired_keys", "fired_ref"} & set(records[0]["responsePayload"])
        assert notified(runtime) == Counter({(a.id, 1): 1 for a in many})


async def test_bad_requests_over_http_change_nothing(store_url: str) -> None:
    await seed(store_url)
    async with LocalRuntime(store_url, secret=SECRET, time_scale=SCALE) as runtime:
        status, body = await post(runtime.url, TICKS, secret=b"wrong")
        assert status == 401
        assert "signature" in body["error"]
        status, body = await post(runtime.url, [{"symbol": "BTC-USD", "price": "NaN", "ts": 1}])
        assert (status, body["field"]) == (400, "ticks[0].price")
        async with aiohttp.ClientSession() as session, session.get(f"{runtime.url}/ticks") as resp:
            assert resp.status == 405
        await runtime.drain()
        assert runtime.invocations == {}
    assert await stored_fires(store_url) == set()


def test_http_api_event_shape() -> None:
    event = http_api_event(
        method="POST",
        path="/ticks",
        query="a=1&a=2",
        headers=[("Content-Type", "application/octet-stream"), ("X-Multi", "1"), ("x-multi", "2"), ("Cookie", "k=v")],
        body=b"\xff\x00",
        source_ip="127.0.0.1",
    )
    assert event["version"] == "2.0"
    assert event["headers"] == {"content-type": "application/octet-stream", "x-multi": "1,2"}
    assert event["cookies"] == ["k=v"]
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert (event["body"], event["isBase64Encoded"]) == ("/wA=", True)
    assert event["requestContext"]["http"]["method"] == "POST"


def test_cli_local_serves_signed_posts_and_writes_notifications(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    store_url = f"sqlite:///{tmp_path / 'cli.db'}"
    asyncio.run(seed(store_url))
    notes, failures = tmp_path / "notes.jsonl", tmp_path / "fail.jsonl"
    env = {**os.environ, "WEBHOOK_SECRET": SECRET.decode(), "PYTHONFAULTHANDLER": "1"}
    cmd = [sys.executable, "-m", "cryptoalerts", "local", "--store", store_url, "--port", "0",
           "--notifications", str(notes), "--failures", str(failures)]  # fmt: skip
    # A shell that starts a job in the background without job control makes it ignore SIGINT, and
    # Python keeps an ignored SIGINT ignored: give the server the default, as a terminal would.
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = first.split("POST ")[1].split()[0]
        body = json.dumps(TICKS).encode()
        request = urllib.request.Request(url, data=body, headers=signed_headers(SECRET, body, time.time()))
        with urllib.request.urlopen(request, timeout=30) as resp:
            assert resp.status == 202
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(notes.read_text().splitlines() if notes.exists() else []) < 6:
            time.sleep(0.05)
        lines = notes.read_text().splitlines()
        keys = [(m["attributes"]["alert_id"], int(m["attributes"]["seq"])) for m in map(json.loads, lines)]
        assert sorted(keys) == sorted(EXPECTED)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            # Ctrl-C did not stop it: make faulthandler print every thread's stack, then fail with it.
            proc.send_signal(signal.SIGABRT)
            _, err = proc.communicate(timeout=30)
            pytest.fail(f"'cryptoalerts local' ignored SIGINT for 30 s; its threads:\n{err[-8000:]}")
    assert proc.returncode == 130, err


def test_cli_local_stops_gracefully_on_sigterm(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "WEBHOOK_SECRET": SECRET.decode()}
    cmd = [sys.executable, "-m", "cryptoalerts", "local", "--store", f"sqlite:///{tmp_path / 'term.db'}", "--port", "0",
           "--notifications", str(tmp_path / "n.jsonl"), "--failures", str(tmp_path / "f.jsonl")]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert "webhook: POST http://127.0.0.1:" in proc.stdout.readline()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert err.strip().splitlines()[-1] == "cryptoalerts local: stopped", err


def test_cli_local_without_a_secret_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptoalerts.cli import main

    monkeypatch.delenv("WEBHOOK_SECRET", raising=False)
    assert main(["local", "--port", "0"]) == 2
