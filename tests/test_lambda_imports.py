"""Each handler file imports in a fresh interpreter, cheaply, and declares its deployment exactly."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cryptoalerts.aws._dynamodb_items import DYNAMODB_ACTIONS
from cryptoalerts.deploy.spec import Destination, FunctionSpec, Permission
from lambda_support import HANDLERS, handler_module

# Loads the file as Lambda does (by path, nothing but the library installed) and reports what it pulled in.
PROBE = """
import importlib.util, json, sys, time
SDK = ("aiobotocore", "aiohttp", "boto3", "botocore.client", "botocore.session", "botocore.exceptions")
t0 = time.perf_counter()
spec = importlib.util.spec_from_file_location("handler", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
elapsed = time.perf_counter() - t0
print(json.dumps({
    "ms": elapsed * 1000,
    "name": module.DEPLOY.name,
    "callable": callable(module.handler),
    "loaded": sorted(m for m in SDK if m in sys.modules),
}))
"""


@pytest.mark.parametrize(
    ("stem", "name"),
    [
        ("price_webhook", "PriceWebhookProcessor"),
        # DYNAMODB_ACTIONS comes from the botocore-free layout module, not the store module.
        ("alert_matcher", "AlertMatcher"),
        ("processed_alerts", "ProcessedAlerts"),
    ],
)
def test_handler_imports_in_a_fresh_interpreter_without_the_aws_sdk(stem: str, name: str) -> None:
    out = subprocess.run(
        [sys.executable, "-I", "-c", PROBE, str(HANDLERS / f"{stem}.py")],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    report = json.loads(out.stdout)
    assert report["name"] == name
    assert report["callable"] is True
    assert report["loaded"] == []


def test_deploy_declarations_are_exactly_the_agreed_ones() -> None:
    specs = {stem: handler_module(stem).DEPLOY for stem in ("price_webhook", "alert_matcher", "processed_alerts")}
    assert all(isinstance(s, FunctionSpec) for s in specs.values())
    webhook, matcher, processed = specs["price_webhook"], specs["alert_matcher"], specs["processed_alerts"]
    assert (webhook.name, webhook.handler, webhook.memory_mb, webhook.timeout_s, webhook.reserved_concurrency) == (
        "PriceWebhookProcessor", "price_webhook.handler", 256, 10, 10,
    )  # fmt: skip
    assert webhook.invokes == ("AlertMatcher",)
    assert webhook.permissions == (Permission(("secretsmanager:GetSecretValue",), "WebhookSecretArn"),)
    assert webhook.environment == {
        "MATCHER_FUNCTION_NAME": "ref:AlertMatcher",
        "WEBHOOK_SECRET_ARN": "ref:WebhookSecretArn",
    }
    assert webhook.http_route == "POST /ticks"
    assert (matcher.name, matcher.handler, matcher.memory_mb, matcher.timeout_s, matcher.reserved_concurrency) == (
        "AlertMatcher", "alert_matcher.handler", 1024, 60, 5,
    )  # fmt: skip
    assert matcher.permissions == (
        Permission(DYNAMODB_ACTIONS, "AlertsTable"),
        Permission(DYNAMODB_ACTIONS, "AlertsTable", "/index/*"),
    )
    assert matcher.environment == {"CRYPTOALERTS_TABLE": "ref:AlertsTable"}
    assert matcher.on_success == Destination("lambda", "ProcessedAlerts")
    assert matcher.on_failure == Destination("sqs", "FailureQueue")
    assert (matcher.max_retry_attempts, matcher.max_event_age_s) == (2, 3600)
    assert (processed.name, processed.handler, processed.memory_mb, processed.timeout_s) == (
        "ProcessedAlerts", "processed_alerts.handler", 256, 30,
    )  # fmt: skip
    assert processed.reserved_concurrency is None
    assert processed.permissions == (
        Permission(DYNAMODB_ACTIONS, "AlertsTable"),
        Permission(DYNAMODB_ACTIONS, "AlertsTable", "/index/*"),  # fires by reference: the fires GSI
        Permission(("sns:Publish",), "NotificationsTopic"),
    )
    assert processed.environment == {
        "CRYPTOALERTS_TABLE": "ref:AlertsTable",
        "NOTIFICATIONS_TOPIC_ARN": "ref:NotificationsTopic",
    }
