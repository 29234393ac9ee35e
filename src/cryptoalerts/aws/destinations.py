"""The Lambda Destinations invocation record, as a typed model.

Lambda builds this record after an async invocation finishes for good (succeeded,
or retries exhausted, or too old) and delivers it to the configured destination:
to a Lambda function as its event, to SQS/SNS as the message body. Powertools has
no model for it, hence this one. Shape (AWS docs, ``invocation-async``)::

    {"version": "1.0", "timestamp": "2019-11-14T18:16:05.568Z",
     "requestContext": {"requestId", "functionArn" (qualified: ends in :$LATEST,
                        a version or an alias), "condition", "approximateInvokeCount"},
     "requestPayload": <the original event>,
     "responseContext": {"statusCode", "executedVersion", "functionError"?},
     "responsePayload": <the handler's return value or its error>}

``responseContext``/``responsePayload`` are optional: emulators omit them for
``ZeroReservedConcurrency`` and a successful handler may return ``null``, so
"absent" and "null" are kept apart (:attr:`InvocationRecord.has_response`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from cryptoalerts.errors import ValidationError

__all__ = [
    "CONDITIONS",
    "EVENT_AGE_EXCEEDED",
    "RETRIES_EXHAUSTED",
    "SUCCESS",
    "InvocationRecord",
    "RequestContext",
    "ResponseContext",
    "record_timestamp",
]

SUCCESS: Final = "Success"
RETRIES_EXHAUSTED: Final = "RetriesExhausted"
EVENT_AGE_EXCEEDED: Final = "EventAgeExceeded"
#: What AWS documents, plus what LocalStack sends for a function with zero reserved concurrency.
CONDITIONS: Final = frozenset({SUCCESS, RETRIES_EXHAUSTED, EVENT_AGE_EXCEEDED, "ZeroReservedConcurrency"})
RECORD_VERSION: Final = "1.0"


def record_timestamp(when: datetime | None = None) -> str:
    """``2019-11-14T18:16:05.568Z``: UTC, milliseconds, ``Z``, as Lambda writes it."""
    when = datetime.now(UTC) if when is None else when.astimezone(UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _field(data: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValidationError(f"{where}{name}", value, f"is required and must be {_kind_name(kind)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


@dataclass(frozen=True, slots=True)
class RequestContext:
    request_id: str
    function_arn: str
    condition: str
    approximate_invoke_count: int

    @property
    def function_name(self) -> str:
        """The function's name from its qualified ARN (``...:function:NAME:QUALIFIER``)."""
        return self.function_arn.split(":")[6]

    @property
    def qualifier(self) -> str:
        return self.function_arn.split(":")[7]


@dataclass(frozen=True, slots=True)
class ResponseContext:
    status_code: int
    executed_version: str
    function_error: str | None = None


@dataclass(frozen=True, slots=True)
class InvocationRecord:
    """One destination record. Build with :meth:`from_dict`; serialise with :meth:`to_dict`."""

    timestamp: str
    request_context: RequestContext
    request_payload: Any
    response_context: ResponseContext | None = None
    response_payload: Any = None
    has_response: bool = False
    version: str = RECORD_VERSION

    @property
    def succeeded(self) -> bool:
        return self.request_context.condition == SUCCESS

    @classmethod
    def from_dict(cls, data: object) -> InvocationRecord:
        """Validate and parse a record.

        Raises:
            ValidationError: naming the missing or malformed field
                (``requestContext.functionArn`` ...).
        """
        if not isinstance(data, dict):
            raise ValidationError("record", type(data).__name__, "must be a destination record object")
        version = _field(data, "version", str, "")
        timestamp = _field(data, "timestamp", str, "")
        try:
            datetime.fromisoformat(timestamp)
        except ValueError:
            raise ValidationError("timestamp", timestamp, "must be an ISO-8601 time") from None
        ctx = _field(data, "requestContext", dict, "")
        arn = _field(ctx, "functionArn", str, "requestContext.")
        parts = arn.split(":")
        if len(parts) != 8 or parts[0] != "arn" or parts[2] != "lambda" or parts[5] != "function" or not parts[7]:
            raise ValidationError("requestContext.functionArn", arn, "must be a qualified Lambda function ARN")
        condition = _field(ctx, "condition", str, "requestContext.")
        if condition not in CONDITIONS:
            raise ValidationError("requestContext.condition", condition, f"must be one of {sorted(CONDITIONS)}")
        count = _field(ctx, "approximateInvokeCount", int, "requestContext.")
        request_context = RequestContext(_field(ctx, "requestId", str, "requestContext."), arn, condition, count)
        if "requestPayload" not in data:
            raise ValidationError("requestPayload", None, "is required")
        response_context = None
        raw = data.get("responseContext")
        if raw is not None:
            if not isinstance(raw, dict):
                raise ValidationError("responseContext", raw, "must be an object")
            error = raw.get("functionError")
            if error is not None and not isinstance(error, str):
                raise ValidationError("responseContext.functionError", error, "must be a string")
            response_context = ResponseContext(
                _field(raw, "statusCode", int, "responseContext."),
                _field(raw, "executedVersion", str, "responseContext."),
                error,
            )
        return cls(
            timestamp=timestamp,
            request_context=request_context,
            request_payload=data["requestPayload"],
            response_context=response_context,
            response_payload=data.get("responsePayload"),
            has_response="responsePayload" in data,
            version=version,
        )

    def to_dict(self) -> dict[str, Any]:
        """The record as Lambda delivers it (key order as in the AWS docs example)."""
        ctx = self.request_context
        out: dict[str, Any] = {
            "version": self.version,
            "timestamp": self.timestamp,
            "requestContext": {
                "requestId": ctx.request_id,
                "functionArn": ctx.function_arn,
                "condition": ctx.condition,
                "approximateInvokeCount": ctx.approximate_invoke_count,
            },
            "requestPayload": self.request_payload,
        }
        if self.response_context is not None:
            rc = self.response_context
            out["responseContext"] = {"statusCode": rc.status_code, "executedVersion": rc.executed_version}
            if rc.function_error is not None:
                out["responseContext"]["functionError"] = rc.function_error
        if self.has_response:
            out["responsePayload"] = self.response_payload
        return out
