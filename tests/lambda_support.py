"""Shared helpers of the ``test_lambda_*`` tests: event fixtures, a fake context, handler loading."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from cryptoalerts.aws.local import load_handler
from cryptoalerts.aws.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

EVENTS = Path(__file__).parent / "events"
HANDLERS = Path(__file__).parents[1] / "adapters" / "lambda"
SECRET = b"test-webhook-secret"
NOW = 1_710_270_240.0


def load_event(name: str) -> dict[str, Any]:
    """A fresh copy of ``tests/events/<name>.json``."""
    return copy.deepcopy(json.loads((EVENTS / f"{name}.json").read_text()))


def handler_module(stem: str) -> ModuleType:
    """Load ``adapters/lambda/<stem>.py`` by path, as Lambda does."""
    return load_handler(HANDLERS / f"{stem}.py")


@dataclass
class FakeContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str = "PriceWebhookProcessor"
    aws_request_id: str = "52fdfc07-2182-454f-963f-5f0f9a621d72"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:PriceWebhookProcessor"
    memory_limit_in_mb: int = 256
    remaining_ms: int = 10_000
    calls: list[str] = field(default_factory=list)

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def http_event(
    shape: str,
    body: bytes,
    *,
    secret: bytes = SECRET,
    now: float = NOW,
    base64_body: bool = False,
    lowercase: bool | None = None,
    method: str = "POST",
) -> dict[str, Any]:
    """A signed event of ``shape`` (``http_api_v2``, ``rest_api_v1`` or ``function_url``).

    Header names keep the fixture's convention (v1 mixed case, 2.0 lowercase)
    unless ``lowercase`` says otherwise.
    """
    event = load_event(shape)
    timestamp = str(int(now))
    signature = sign(secret, timestamp, body)
    lower = shape != "rest_api_v1" if lowercase is None else lowercase
    names = (TIMESTAMP_HEADER.lower(), SIGNATURE_HEADER.lower()) if lower else (TIMESTAMP_HEADER, SIGNATURE_HEADER)
    event["headers"][names[0]] = timestamp
    event["headers"][names[1]] = signature
    if base64_body:
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
    else:
        event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False
    if shape == "rest_api_v1":
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
        event["multiValueHeaders"][names[0]] = [timestamp]
        event["multiValueHeaders"][names[1]] = [signature]
    else:
        event["requestContext"]["http"]["method"] = method
    return event


class RecordingInvoker:
    """An :class:`~cryptoalerts.aws.invoke.Invoker` that keeps every payload."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bytes]] = []

    async def invoke_async(self, function_name: str, payload: bytes) -> str:
        self.calls.append((function_name, payload))
        return f"req-{len(self.calls)}"
