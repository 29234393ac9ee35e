"""HTTP events in, HTTP responses out: the three shapes the webhook is reached through.

API Gateway HTTP APIs (payload format 2.0), REST APIs (v1 proxy) and Lambda
function URLs (the 2.0 schema) each deliver the same request differently. This
module turns any of them into one :class:`HttpRequest` holding the *raw* body
bytes (HMAC checks must run on exactly what the client sent, before any JSON
parsing) and shapes a response in the format the caller expects: a v1 proxy
integration turns a malformed response into a 502/500, so v1 responses always
carry every field it requires.

Headers are looked up case-insensitively: the 2.0 docs promise lowercase names,
older samples and v1 keep the client's case.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from cryptoalerts.errors import ValidationError

__all__ = ["HttpRequest", "LambdaContext", "http_response", "parse_http_event"]

PayloadVersion = Literal["1.0", "2.0"]


class LambdaContext(Protocol):
    """The attributes of Lambda's context object the handlers read."""

    function_name: str
    aws_request_id: str
    invoked_function_arn: str
    memory_limit_in_mb: int | str

    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One HTTP request, independent of the event format that carried it.

    ``headers`` has lowercase names; ``body`` is the raw bytes (base64 already
    decoded); ``version`` says how to shape the response.
    """

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    version: PayloadVersion
    request_id: str = ""
    source_ip: str = ""

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or None."""
        return self.headers.get(name.lower())


def _lower_headers(raw: object) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValidationError("headers", type(raw).__name__, "must be an object of header names to values")
    out: dict[str, str] = {}
    for name, value in raw.items():
        if not isinstance(name, str) or not isinstance(value, str):
            raise ValidationError("headers", name, "header names and values must be strings")
        key = name.lower()
        # Two spellings of one header (v1 keeps case): join them as 2.0 does for repeats.
        out[key] = f"{out[key]},{value}" if key in out else value
    return out


def _body_bytes(event: Mapping[str, Any]) -> bytes:
    body = event.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise ValidationError("body", type(body).__name__, "must be a string (API Gateway always sends one)")
    if event.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationError("body", body[:40], "isBase64Encoded is true but the body is not base64") from None
    try:
        return body.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates cannot come from JSON text on the wire
        raise ValidationError("body", body[:40], "is not valid UTF-8 text") from None


def _text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, value, "must be a string")
    return value


def parse_http_event(event: object) -> HttpRequest:
    """Normalise an HTTP API 2.0, REST v1 proxy or function URL event.

    Raises:
        ValidationError: the event is none of the three shapes, naming the bad field.
    """
    if not isinstance(event, Mapping):
        raise ValidationError("event", type(event).__name__, "must be an HTTP event object")
    context = event.get("requestContext")
    if not isinstance(context, Mapping):
        raise ValidationError("requestContext", context, "is required in an HTTP event")
    if event.get("version") == "2.0":
        http = context.get("http")
        if not isinstance(http, Mapping):
            raise ValidationError("requestContext.http", http, "is required in a 2.0 event")
        method = _text(http.get("method"), "requestContext.http.method")
        path = _text(event.get("rawPath", http.get("path", "/")), "rawPath")
        version: PayloadVersion = "2.0"
        source_ip = http.get("sourceIp", "")
    elif "httpMethod" in event:
        method = _text(event.get("httpMethod"), "httpMethod")
        path = _text(event.get("path", "/"), "path")
        version = "1.0"
        identity = context.get("identity")
        source_ip = identity.get("sourceIp", "") if isinstance(identity, Mapping) else ""
    else:
        raise ValidationError("version", event.get("version"), "not an API Gateway v1/v2 or function URL event")
    request_id = context.get("requestId", "")
    return HttpRequest(
        method=method.upper(),
        path=path,
        headers=_lower_headers(event.get("headers")),
        body=_body_bytes(event),
        version=version,
        request_id=request_id if isinstance(request_id, str) else "",
        source_ip=source_ip if isinstance(source_ip, str) else "",
    )


def http_response(
    status: int,
    payload: Mapping[str, Any],
    *,
    version: PayloadVersion = "2.0",
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A JSON response in the shape the integration requires.

    v1 proxy integrations need ``isBase64Encoded``, ``statusCode``, ``headers``,
    ``multiValueHeaders`` and a string ``body``; 2.0 accepts the same without
    ``multiValueHeaders``. ``statusCode`` is always explicit, so API Gateway never
    infers a 200 from a bare JSON value.
    """
    all_headers = {"content-type": "application/json", **(headers or {})}
    response: dict[str, Any] = {
        "statusCode": status,
        "headers": all_headers,
        "body": json.dumps(payload, separators=(",", ":"), sort_keys=True),
        "isBase64Encoded": False,
    }
    if version == "1.0":
        response["multiValueHeaders"] = {}
    return response
