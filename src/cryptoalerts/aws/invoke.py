"""Asynchronous invocation of AlertMatcher: the seam between webhook and matcher.

The webhook never waits for matching: it hands each tick batch to Lambda's
async-invoke queue (``InvocationType="Event"``, answered with 202) and returns.
That queue is what gives retries, maximum event age and the success/failure
destinations. :class:`Invoker` is the interface, so the local runtime can put its
own queue, with the same semantics, in place of Lambda's.
"""

from __future__ import annotations

from typing import Protocol

from cryptoalerts.aws.clients import ClientResource
from cryptoalerts.errors import CryptoAlertsError

__all__ = ["InvokeError", "Invoker", "LambdaInvoker"]


class InvokeError(CryptoAlertsError):
    """The async invoke was not accepted (Lambda did not answer 202)."""


class Invoker(Protocol):
    """Queues one event for a function and returns the request id it was given."""

    async def invoke_async(self, function_name: str, payload: bytes) -> str: ...


class LambdaInvoker(ClientResource):
    """:class:`Invoker` backed by Lambda's ``Invoke`` API with ``InvocationType="Event"``.

    Needs ``lambda:InvokeFunction`` on the target (the template grants it from
    ``FunctionSpec.invokes``).
    """

    service = "lambda"

    async def invoke_async(self, function_name: str, payload: bytes) -> str:
        """Queue ``payload`` for ``function_name``; the caller keeps it under the async limit.

        Raises:
            InvokeError: Lambda answered anything but 202.
        """
        response = await self.client.invoke(FunctionName=function_name, InvocationType="Event", Payload=payload)
        if response.get("StatusCode") != 202:
            raise InvokeError(f"async invoke of {function_name} answered {response.get('StatusCode')}")
        return str(response.get("ResponseMetadata", {}).get("RequestId", ""))
