"""Where notifications go: SNS in AWS, a list or a JSONL file locally.

One message per fire. The body is the fire as JSON (``Fired.to_dict()``); the
message attributes carry its idempotency key (``alert_id``, ``seq``) plus
``symbol`` and ``condition``, so subscribers can filter with an SNS filter policy
and deduplicate without parsing the body.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Protocol

from cryptoalerts.aws.clients import ClientResource
from cryptoalerts.model import Fired

__all__ = ["JsonlPublisher", "MemoryPublisher", "Publisher", "SnsPublisher", "message_attributes", "message_body"]


class Publisher(Protocol):
    """Sends one notification for one fire."""

    async def publish(self, fire: Fired) -> None: ...


def message_body(fire: Fired) -> str:
    return json.dumps(fire.to_dict(), separators=(",", ":"), sort_keys=True)


def message_attributes(fire: Fired) -> dict[str, dict[str, str]]:
    """SNS ``MessageAttributes``: the idempotency key and the filterable fields."""
    return {
        "alert_id": {"DataType": "String", "StringValue": fire.alert_id},
        "seq": {"DataType": "Number", "StringValue": str(fire.seq)},
        "symbol": {"DataType": "String", "StringValue": fire.symbol},
        "condition": {"DataType": "String", "StringValue": fire.condition.value},
    }


class SnsPublisher(ClientResource):
    """:class:`Publisher` to an SNS standard topic (needs ``sns:Publish`` on it)."""

    service = "sns"

    def __init__(self, topic_arn: str, client: Any = None, **kwargs: Any) -> None:
        super().__init__(client, **kwargs)
        self.topic_arn = topic_arn

    async def publish(self, fire: Fired) -> None:
        await self.client.publish(
            TopicArn=self.topic_arn, Message=message_body(fire), MessageAttributes=message_attributes(fire)
        )


class MemoryPublisher:
    """Keeps every message in :attr:`messages` (``(body, attributes)``), for tests and demos.

    Thread-safe enough for the local runtime: list appends are atomic.
    """

    def __init__(self) -> None:
        self.messages: list[tuple[dict[str, Any], dict[str, str]]] = []

    async def publish(self, fire: Fired) -> None:
        attrs = {k: v["StringValue"] for k, v in message_attributes(fire).items()}
        self.messages.append((fire.to_dict(), attrs))

    @property
    def keys(self) -> list[tuple[str, int]]:
        """The ``(alert_id, seq)`` of every message, in publish order."""
        return [(attrs["alert_id"], int(attrs["seq"])) for _, attrs in self.messages]


class JsonlPublisher:
    """Appends one JSON line per message to ``path`` (the local stand-in for the SNS topic)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    async def publish(self, fire: Fired) -> None:
        attrs = {k: v["StringValue"] for k, v in message_attributes(fire).items()}
        line = json.dumps({"message": fire.to_dict(), "attributes": attrs}, separators=(",", ":")) + "\n"
        await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
