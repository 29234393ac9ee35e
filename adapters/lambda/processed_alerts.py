"""ProcessedAlerts: one SNS notification per fire in AlertMatcher's success records.

All logic is in :mod:`cryptoalerts.aws.processed`; this file is what Lambda loads.
"""

from __future__ import annotations

from typing import Any

from cryptoalerts.aws._dynamodb_items import DYNAMODB_ACTIONS  # botocore-free: cheap cold start
from cryptoalerts.aws.processed import ProcessedFunction
from cryptoalerts.deploy.spec import FunctionSpec, Permission

DEPLOY = FunctionSpec(
    name="ProcessedAlerts",
    handler="processed_alerts.handler",
    description="Publishes one notification per fire, idempotently on (alert_id, seq)",
    memory_mb=256,
    timeout_s=30,
    permissions=(
        Permission(DYNAMODB_ACTIONS, "AlertsTable"),
        # Fires referenced by symbol and time range are read from the fires_by_symbol GSI.
        Permission(DYNAMODB_ACTIONS, "AlertsTable", "/index/*"),
        Permission(("sns:Publish",), "NotificationsTopic"),
    ),
    environment={"CRYPTOALERTS_TABLE": "ref:AlertsTable", "NOTIFICATIONS_TOPIC_ARN": "ref:NotificationsTopic"},
)

# Module scope: the store client, SNS client and event loop are reused while warm.
APP = ProcessedFunction()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return APP(event, context)
