"""Deployment declarations that live next to each Lambda handler.

Each file in ``adapters/lambda/`` sets a module-level ``DEPLOY = FunctionSpec(...)``;
the template emitter reads those and nothing else, so the code and its deployment
settings cannot drift apart. Targets are named by *logical name* in the emitted
stack: another function's ``name``, one of the stack's own resources
(``AlertsTable``, ``FailureQueue``, ``NotificationsTopic``), or the stack parameter
``WebhookSecretArn`` (the secret lives outside the stack; only its ARN is passed in).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Destination", "FunctionSpec", "Permission"]

DestinationKind = Literal["lambda", "sqs", "sns", "eventbridge", "s3"]


@dataclass(frozen=True, slots=True)
class Destination:
    """An async-invocation destination: ``kind`` and the logical name of its target."""

    kind: DestinationKind
    target: str


@dataclass(frozen=True, slots=True)
class Permission:
    """IAM actions the function needs on one named resource of the stack.

    ``resource`` is a logical name; ``suffix`` is appended to its ARN (for example
    ``"/index/*"`` for a table's indexes).
    """

    actions: tuple[str, ...]
    resource: str
    suffix: str = ""


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """How one handler is deployed. The emitter derives roles and policies from this.

    Destination and invoke permissions are *not* listed in ``permissions``: the
    emitter adds them from ``on_success``/``on_failure``/``invokes``, which is what
    makes a destination the role may not reach impossible to emit.
    """

    name: str
    handler: str
    description: str = ""
    memory_mb: int = 512
    timeout_s: int = 30
    reserved_concurrency: int | None = None
    environment: dict[str, str] = field(default_factory=dict)
    permissions: tuple[Permission, ...] = ()
    invokes: tuple[str, ...] = ()
    on_success: Destination | None = None
    on_failure: Destination | None = None
    max_retry_attempts: int = 2
    max_event_age_s: int = 3600
    http_route: str | None = None
