"""AlertMatcher: match a tick batch with a warm engine; fires are recorded exactly once.

All logic is in :mod:`cryptoalerts.aws.matcher`; this file is what Lambda loads.
"""

from __future__ import annotations

from typing import Any

from cryptoalerts.aws._dynamodb_items import DYNAMODB_ACTIONS  # botocore-free: cheap cold start
from cryptoalerts.aws.matcher import MatcherFunction
from cryptoalerts.deploy.spec import Destination, FunctionSpec, Permission

DEPLOY = FunctionSpec(
    name="AlertMatcher",
    handler="alert_matcher.handler",
    description="Matches tick batches against the alert index and records fires exactly once",
    memory_mb=1024,
    timeout_s=60,
    reserved_concurrency=5,
    permissions=(
        Permission(DYNAMODB_ACTIONS, "AlertsTable"),
        Permission(DYNAMODB_ACTIONS, "AlertsTable", "/index/*"),
    ),
    environment={"CRYPTOALERTS_TABLE": "ref:AlertsTable"},
    on_success=Destination("lambda", "ProcessedAlerts"),
    on_failure=Destination("sqs", "FailureQueue"),
    max_retry_attempts=2,
    max_event_age_s=3600,
)

# Module scope: the warm engine (and its event loop and store) outlive an invocation.
APP = MatcherFunction()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return APP(event, context)
