"""The production AWS paths (async invoke, SNS publish, Secrets Manager/SSM) over real HTTP.

The real aiobotocore clients talk to a loopback stub server that records every
request, found through botocore's own ``AWS_ENDPOINT_URL`` setting, so the code
under test is exactly the code that runs in Lambda.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from aiohttp import web

from cryptoalerts.aws.invoke import LambdaInvoker
from cryptoalerts.aws.publish import SnsPublisher
from cryptoalerts.aws.secrets import fetch_secret
from cryptoalerts.aws.webhook import WebhookFunction
from cryptoalerts.model import Condition, Fired
from cryptoalerts.stores import open_store
from lambda_support import NOW, SECRET, FakeContext, handler_module, http_event, load_event

SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:webhook-AbCdEf"
PARAM_ARN = "arn:aws:ssm:us-east-1:123456789012:parameter/cryptoalerts/webhook"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:notifications"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class StubAws:
    """An aiohttp server on 127.0.0.1, on its own thread and loop, answering like Lambda, SNS, SM and SSM."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._runner: web.AppRunner | None = None

    def __enter__(self) -> StubAws:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._runner is not None
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._ready.set()
        self._loop.run_forever()

    def of(self, kind: str) -> list[Seen]:
        return [r for r in self.requests if _kind(r) == kind]

    async def _handle(self, request: web.Request) -> web.Response:
        seen = Seen(request.method, request.path, dict(request.headers), await request.read())
        self.requests.append(seen)
        kind = _kind(seen)
        rid = {"x-amzn-RequestId": f"stub-{len(self.requests)}"}
        json_type = "application/x-amz-json-1.1"
        if kind == "invoke":
            return web.Response(status=202, headers=rid)
        if kind == "secretsmanager.GetSecretValue":
            body = {"ARN": SECRET_ARN, "Name": "webhook", "SecretString": SECRET.decode(), "VersionId": "v1"}
            return web.Response(body=json.dumps(body), content_type=json_type, headers=rid)
        if kind == "AmazonSSM.GetParameter":
            body = {"Parameter": {"Name": "/cryptoalerts/webhook", "Type": "SecureString", "Value": "from-ssm"}}
            return web.Response(body=json.dumps(body), content_type=json_type, headers=rid)
        if kind == "Publish":
            xml = (
                '<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult>'
                f"<MessageId>m-{len(self.requests)}</MessageId></PublishResult>"
                "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>"
            )
            return web.Response(body=xml, content_type="text/xml", headers=rid)
        return web.Response(status=400, text=f"stub does not know {kind}")


def _kind(seen: Seen) -> str:
    if seen.path.endswith("/invocations"):
        return "invoke"
    target = {k.lower(): v for k, v in seen.headers.items()}.get("x-amz-target")
    if target:
        return target
    return parse_qs(seen.body.decode()).get("Action", ["?"])[0]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubAws]:
    with StubAws() as stub:
        monkeypatch.setenv("AWS_ENDPOINT_URL", stub.url)
        yield stub


async def test_lambda_invoker_sends_an_event_invocation(aws: StubAws) -> None:
    payload = json.dumps({"batch_id": "x", "ticks": []}).encode()
    async with LambdaInvoker() as invoker:
        request_id = await invoker.invoke_async("AlertMatcher", payload)
    (seen,) = aws.of("invoke")
    assert seen.method == "POST"
    assert seen.path == "/2015-03-31/functions/AlertMatcher/invocations"
    assert seen.headers["X-Amz-Invocation-Type"] == "Event"
    assert seen.body == payload
    assert request_id == "stub-1"


def test_webhook_production_path_fetches_the_secret_once_and_invokes_async(
    aws: StubAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBHOOK_SECRET_ARN", SECRET_ARN)
    monkeypatch.setenv("MATCHER_FUNCTION_NAME", "stack-AlertMatcher-1A2B3C")
    monkeypatch.setenv("ASYNC_PAYLOAD_LIMIT_BYTES", "8192")
    module = handler_module("price_webhook")
    module.APP = WebhookFunction(clock=lambda: NOW)  # settings, secret, invoker: all from the environment
    ticks = [{"symbol": f"S{i % 5}", "price": 1 + i, "ts": i} for i in range(400)]
    try:
        for _ in range(2):  # a warm second invocation reuses the secret and the client
            response = module.handler(http_event("http_api_v2", json.dumps(ticks).encode()), FakeContext())
            assert response["statusCode"] == 202
    finally:
        module.APP.close()
    assert len(aws.of("secretsmanager.GetSecretValue")) == 1
    assert json.loads(aws.of("secretsmanager.GetSecretValue")[0].body) == {"SecretId": SECRET_ARN}
    invokes = aws.of("invoke")
    assert len(invokes) >= 4  # 400 ticks do not fit one 4 KiB batch
    assert all(r.path == "/2015-03-31/functions/stack-AlertMatcher-1A2B3C/invocations" for r in invokes)
    assert all(r.headers["X-Amz-Invocation-Type"] == "Event" for r in invokes)
    assert max(len(r.body) for r in invokes) <= 4096
    assert sum(len(json.loads(r.body)["ticks"]) for r in invokes) == 2 * len(ticks)


async def test_secret_from_ssm_parameter(aws: StubAws) -> None:
    assert await fetch_secret(PARAM_ARN) == b"from-ssm"
    (seen,) = aws.of("AmazonSSM.GetParameter")
    assert json.loads(seen.body) == {"Name": PARAM_ARN, "WithDecryption": True}


async def test_sns_publisher_sends_the_idempotency_key_as_attributes(aws: StubAws) -> None:
    fire = Fired("a1", "BTC-USD", Condition.CROSSES_UP, 65000.5, 64000.0, 1710270238.0, 7, threshold=65000.0)
    async with SnsPublisher(TOPIC_ARN) as publisher:
        await publisher.publish(fire)
    (seen,) = aws.of("Publish")
    form = {k: v[0] for k, v in parse_qs(seen.body.decode()).items()}
    assert form["TopicArn"] == TOPIC_ARN
    assert json.loads(form["Message"]) == fire.to_dict()
    attrs = {
        form[f"MessageAttributes.entry.{i}.Name"]: (
            form[f"MessageAttributes.entry.{i}.Value.DataType"],
            form[f"MessageAttributes.entry.{i}.Value.StringValue"],
        )
        for i in range(1, 5)
    }
    assert attrs == {
        "alert_id": ("String", "a1"),
        "seq": ("Number", "7"),
        "symbol": ("String", "BTC-USD"),
        "condition": ("String", "crosses_up"),
    }


def test_processed_alerts_production_path_publishes_each_fire_once(
    aws: StubAws, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    asyncio.run(_init(url))
    monkeypatch.setenv("CRYPTOALERTS_STORE_URL", url)
    monkeypatch.setenv("NOTIFICATIONS_TOPIC_ARN", TOPIC_ARN)
    module = handler_module("processed_alerts")
    record = load_event("destination_success")
    context = FakeContext(function_name="ProcessedAlerts")
    try:
        first = module.handler(record, context)
        again = module.handler(record, context)  # Lambda may deliver the same record twice
    finally:
        module.APP.close()
    assert (first["published"], first["duplicates"]) == (1, 0)
    assert (again["published"], again["duplicates"]) == (0, 1)
    (seen,) = aws.of("Publish")
    assert "MessageAttributes.entry.1.Value.StringValue=a1" in seen.body.decode()


async def _init(url: str) -> None:
    async with open_store(url) as store:
        await store.init()
