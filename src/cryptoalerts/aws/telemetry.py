"""Structured logs and CloudWatch metrics for the three functions (Powertools).

Logs are JSON lines with the Lambda context (request id, function name, cold
start); metrics go to stdout in Embedded Metric Format under the ``CryptoAlerts``
namespace, so they cost no API call. ``EphemeralMetrics`` rather than ``Metrics``:
the latter shares one metric set across instances, which would mix the three
functions' metrics when the local runtime runs them side by side.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from cryptoalerts.aws.events import LambdaContext

__all__ = ["NAMESPACE", "Telemetry"]

NAMESPACE = "CryptoAlerts"


@dataclass
class Telemetry:
    """One function's logger and metrics, and the per-invocation bookkeeping."""

    service: str
    logger: Logger = field(init=False)
    metrics: EphemeralMetrics = field(init=False)
    _cold: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        self.logger = Logger(service=self.service)
        self.metrics = EphemeralMetrics(namespace=NAMESPACE, service=self.service)

    def start(self, context: LambdaContext | None) -> float:
        """Attach the invocation's context to every log line; returns the start time."""
        keys: dict[str, Any] = {"cold_start": self._cold}
        if context is not None:
            keys |= {
                "function_request_id": getattr(context, "aws_request_id", ""),
                "function_name": getattr(context, "function_name", self.service),
                "function_arn": getattr(context, "invoked_function_arn", ""),
            }
        self._cold = False
        self.logger.append_keys(**keys)
        return time.perf_counter()

    def count(self, name: str, value: float) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def finish(self, started: float) -> None:
        """Record the latency and flush this invocation's metrics (one EMF line)."""
        self.metrics.add_metric(
            name="LatencyMs", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000
        )
        self.metrics.flush_metrics()
