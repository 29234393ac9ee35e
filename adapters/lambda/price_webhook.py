"""PriceWebhookProcessor: signed price POSTs in, async AlertMatcher invocations out.

All logic is in :mod:`cryptoalerts.aws.webhook`; this file is what Lambda loads.
"""

from __future__ import annotations

from typing import Any

from cryptoalerts.aws.webhook import WebhookFunction
from cryptoalerts.deploy.spec import FunctionSpec, Permission

DEPLOY = FunctionSpec(
    name="PriceWebhookProcessor",
    handler="price_webhook.handler",
    description="Authenticates signed price ticks and queues them for AlertMatcher",
    memory_mb=256,
    timeout_s=10,
    reserved_concurrency=10,
    invokes=("AlertMatcher",),
    permissions=(Permission(("secretsmanager:GetSecretValue",), "WebhookSecretArn"),),
    environment={"MATCHER_FUNCTION_NAME": "ref:AlertMatcher", "WEBHOOK_SECRET_ARN": "ref:WebhookSecretArn"},
    http_route="POST /ticks",
)

# Module scope: one app (its event loop, secret and Lambda client) per container.
APP = WebhookFunction()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return APP(event, context)
