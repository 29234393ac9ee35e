"""Run the three Lambda functions in-process, with Lambda's async-invocation semantics.

What AWS does between the functions is rebuilt here, so the code that AWS will
run (the files in ``adapters/lambda/``, loaded by path) meets the same behaviour
locally:

- **an async queue**: the webhook's invoke returns at once with a request id; the
  event is delivered later, possibly **twice** on demand (``duplicate=``), as
  Lambda may do even when nothing failed;
- **retries**: a failing invocation is retried up to ``MaximumRetryAttempts``
  (from the function's ``DEPLOY`` spec) after the documented delays, 1 minute then
  2 minutes, multiplied by ``time_scale``; an event older than
  ``MaximumEventAgeInSeconds`` (scaled) is given up with ``EventAgeExceeded``;
- **destinations**: each finished event produces an invocation record in exactly
  the documented shape (:class:`~cryptoalerts.aws.destinations.InvocationRecord`),
  sent to a Lambda destination as an async event (ProcessedAlerts) or, for the
  SQS failure queue, appended to :attr:`LocalRuntime.failures` and to a JSONL
  file if one is given; a record over the async limit is not delivered and lands
  in :attr:`LocalRuntime.delivery_failures`, as Lambda's
  ``DestinationDeliveryFailures`` would count it;
- **an HTTP endpoint** on 127.0.0.1 whose requests reach the webhook as HTTP API
  payload 2.0 events.

Each function runs in its own worker thread with its own event loop (its
:class:`~cryptoalerts.aws.runtime.Container`), one invocation at a time, like one
Lambda execution environment; the queue and the HTTP server run on the caller's
loop. Stores are opened by URL in each function, as in AWS: the embedded SQLite
file is shared by all three (``memory://`` would give each its own, so it is refused).
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import json
import logging
import time
import traceback
import uuid
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Final, Self

from cryptoalerts.aws.batches import DEFAULT_ASYNC_LIMIT_BYTES
from cryptoalerts.aws.destinations import (
    EVENT_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    SUCCESS,
    InvocationRecord,
    RequestContext,
    ResponseContext,
    record_timestamp,
)
from cryptoalerts.aws.invoke import InvokeError
from cryptoalerts.aws.matcher import MatcherFunction, MatcherSettings
from cryptoalerts.aws.processed import DEFAULT_LEASE_S, ProcessedFunction, ProcessedSettings
from cryptoalerts.aws.publish import MemoryPublisher, Publisher
from cryptoalerts.aws.webhook import WebhookFunction, WebhookSettings
from cryptoalerts.deploy.spec import FunctionSpec
from cryptoalerts.errors import ValidationError

if TYPE_CHECKING:
    from aiohttp import web

__all__ = ["RETRY_DELAYS_S", "LocalContext", "LocalRuntime", "default_handlers_dir", "load_handler"]

log = logging.getLogger(__name__)

_SHUTDOWN_TIMEOUT_S = 2.0  # how long stopping the webhook server waits for open connections

#: Lambda's delays before the first and the second retry of a function error.
RETRY_DELAYS_S: Final = (60.0, 120.0)
REGION: Final = "us-east-1"
ACCOUNT: Final = "123456789012"
HANDLER_FILES: Final = ("price_webhook.py", "alert_matcher.py", "processed_alerts.py")


def default_handlers_dir() -> Path:
    """``adapters/lambda`` of a source checkout, else the copy installed as ``cryptoalerts/_handlers``."""
    package = Path(__file__).resolve().parents[1]
    checkout = package.parents[1] / "adapters" / "lambda"
    return checkout if checkout.is_dir() else package / "_handlers"


def load_handler(path: Path) -> ModuleType:
    """Import one handler file by path, as Lambda does, under a private module name."""
    name = f"_cryptoalerts_handler_{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ValidationError("handler", str(path), "is not a loadable Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class LocalContext:
    """The Lambda context object, with the attributes the handlers and Powertools read."""

    function_name: str
    aws_request_id: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 128
    timeout_s: float = 30.0
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class _Function:
    spec: FunctionSpec
    module: ModuleType
    executor: ThreadPoolExecutor

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.spec.name}"


@dataclass
class _Event:
    function: str
    payload: Any
    request_id: str
    enqueued_at: float
    attempts: int = 0


class _QueueInvoker:
    """The webhook's :class:`~cryptoalerts.aws.invoke.Invoker`: hops to the runtime's loop and queues."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self._runtime = runtime

    async def invoke_async(self, function_name: str, payload: bytes) -> str:
        loop = self._runtime.loop
        future = asyncio.run_coroutine_threadsafe(self._runtime.invoke_async(function_name, payload), loop)
        return await asyncio.wrap_future(future)


class LocalRuntime:
    """The three functions, the async queue between them and the webhook's HTTP server.

    >>> async def main():  # doctest: +SKIP
    ...     async with LocalRuntime("sqlite:///tmp/a.db", secret=b"s", port=8080) as rt:
    ...         print(rt.url)            # POST signed ticks here
    ...         await rt.drain()         # wait until every queued event is finished
    ...         print(rt.publisher.keys) # notifications sent, as (alert_id, seq)

    Args:
        store_url: the store all three functions open (``sqlite:///...`` or ``dynamodb://...``).
        secret: the webhook's HMAC secret.
        publisher: where ProcessedAlerts sends notifications (default: a :class:`MemoryPublisher`).
        time_scale: multiplies Lambda's retry delays, maximum event age and ProcessedAlerts'
            notification lease (1.0 is real time).
        duplicate: names of functions whose every async event is delivered twice.
        failure_path: JSONL file that receives failure records (the SQS queue's stand-in).
        serve: start the HTTP server (``url``); off for tests that only queue events.
    """

    def __init__(
        self,
        store_url: str,
        *,
        secret: bytes,
        publisher: Publisher | None = None,
        handlers_dir: Path | None = None,
        time_scale: float = 1.0,
        duplicate: Collection[str] = (),
        failure_path: Path | None = None,
        async_limit_bytes: int = DEFAULT_ASYNC_LIMIT_BYTES,
        serve: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        if store_url.startswith("memory:"):
            raise ValidationError("store_url", store_url, "memory:// is private to one function; use sqlite")
        if not time_scale > 0:
            raise ValidationError("time_scale", time_scale, "must be > 0")
        self.store_url = store_url
        self.publisher: Publisher = publisher if publisher is not None else MemoryPublisher()
        self.handlers_dir = handlers_dir or default_handlers_dir()
        self.time_scale = time_scale
        self.duplicate = frozenset(duplicate)
        self.failure_path = failure_path
        self.async_limit_bytes = async_limit_bytes
        self.failures: list[dict[str, Any]] = []
        self.delivery_failures: list[dict[str, Any]] = []
        self.unhandled: list[dict[str, Any]] = []
        self.invocations: dict[str, int] = {}
        self._secret = secret
        self._serve = serve
        self._host = host
        self._port = port
        self._functions: dict[str, _Function] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- lifecycle ----------------------------------------------------------------
    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise ValidationError("runtime", None, "is not started; use 'async with LocalRuntime(...)'")
        return self._loop

    def function(self, name: str) -> _Function:
        """A loaded function by its ``DEPLOY.name`` (tests wrap ``.module.handler``)."""
        return self._functions[name]

    async def __aenter__(self) -> Self:
        self._loop = asyncio.get_running_loop()
        from cryptoalerts.stores import open_store

        async with open_store(self.store_url) as store:
            await store.init()
        try:
            for filename in HANDLER_FILES:
                module = await asyncio.to_thread(load_handler, self.handlers_dir / filename)
                spec: FunctionSpec = module.DEPLOY
                executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=spec.name)
                self._functions[spec.name] = _Function(spec, module, executor)
            self._configure()
            if self._serve:
                await self._start_server()
        except BaseException:
            await self._shutdown()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._shutdown()

    def _configure(self) -> None:
        """Replace each handler module's ``APP`` with one wired to this runtime."""
        apps = {
            "PriceWebhookProcessor": WebhookFunction(
                settings=WebhookSettings(matcher_function="AlertMatcher", async_limit_bytes=self.async_limit_bytes),
                secret=self._secret,
                invoker=_QueueInvoker(self),
            ),
            "AlertMatcher": MatcherFunction(
                settings=MatcherSettings(self.store_url, async_limit_bytes=self.async_limit_bytes)
            ),
            # The notification lease is scaled like the retry delays it is timed against.
            "ProcessedAlerts": ProcessedFunction(
                settings=ProcessedSettings(self.store_url, None, DEFAULT_LEASE_S * self.time_scale),
                publisher=self.publisher,
            ),
        }
        for name, app in apps.items():
            self._functions[name].module.APP = app  # type: ignore[attr-defined]  # each handler module has one

    async def _shutdown(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        loop = asyncio.get_running_loop()
        for fn in self._functions.values():
            app = getattr(fn.module, "APP", None)
            if app is not None:
                await loop.run_in_executor(fn.executor, app.close)
            await asyncio.to_thread(fn.executor.shutdown)
        self._functions.clear()

    async def drain(self, timeout_s: float = 60.0) -> None:
        """Wait until every queued event (and the events they caused) is finished."""
        async with asyncio.timeout(timeout_s):
            while self._tasks:
                await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- the async queue ----------------------------------------------------------
    async def invoke_async(self, function_name: str, payload: bytes) -> str:
        """Queue an event like ``Invoke(InvocationType="Event")``; returns the request id.

        Raises:
            InvokeError: no such function, or the payload is over the async limit.
        """
        if function_name not in self._functions:
            raise InvokeError(f"Function not found: {function_name}")
        if len(payload) > self.async_limit_bytes:
            raise InvokeError(f"RequestEntityTooLargeException: {len(payload)} > {self.async_limit_bytes} bytes")
        event = json.loads(payload)
        request_id = str(uuid.uuid4())
        copies = 2 if function_name in self.duplicate else 1
        for _ in range(copies):
            item = _Event(function_name, event, request_id, time.monotonic())
            task = asyncio.create_task(self._deliver(item), name=f"{function_name}:{request_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return request_id

    async def _deliver(self, item: _Event) -> None:
        fn = self._functions[item.function]
        spec = fn.spec
        max_age = spec.max_event_age_s * self.time_scale
        last_error: dict[str, Any] | None = None
        while True:
            if time.monotonic() - item.enqueued_at > max_age:
                await self._finish(fn, item, EVENT_AGE_EXCEEDED, last_error, error=last_error is not None)
                return
            item.attempts += 1
            self.invocations[item.function] = self.invocations.get(item.function, 0) + 1
            try:
                result = await self._run_handler(fn, item)
            except Exception as exc:  # a function error: Lambda's retry policy applies
                last_error = {
                    "errorMessage": str(exc),
                    "errorType": type(exc).__name__,
                    "requestId": item.request_id,
                    "stackTrace": traceback.format_exception(exc)[-3:],
                }
                if item.attempts > spec.max_retry_attempts:
                    await self._finish(fn, item, RETRIES_EXHAUSTED, last_error, error=True)
                    return
                delay = RETRY_DELAYS_S[min(item.attempts, len(RETRY_DELAYS_S)) - 1] * self.time_scale
                await asyncio.sleep(delay)
                continue
            await self._finish(fn, item, SUCCESS, result, error=False)
            return

    async def _run_handler(self, fn: _Function, item: _Event) -> Any:
        context = LocalContext(
            function_name=fn.spec.name,
            aws_request_id=item.request_id,
            invoked_function_arn=fn.arn,
            memory_limit_in_mb=fn.spec.memory_mb,
            timeout_s=fn.spec.timeout_s,
        )
        event = json.loads(json.dumps(item.payload))  # each attempt gets a fresh copy, as from the wire
        result = await asyncio.get_running_loop().run_in_executor(fn.executor, fn.module.handler, event, context)
        return json.loads(json.dumps(result))  # Lambda serialises the return value; so must the handler

    async def _finish(self, fn: _Function, item: _Event, condition: str, response: Any, *, error: bool) -> None:
        record = InvocationRecord(
            timestamp=record_timestamp(datetime.now(UTC)),
            request_context=RequestContext(item.request_id, f"{fn.arn}:$LATEST", condition, item.attempts),
            request_payload=item.payload,
            response_context=(
                ResponseContext(200, "$LATEST", "Unhandled" if error else None) if item.attempts else None
            ),
            response_payload=response,
            has_response=item.attempts > 0,
        ).to_dict()
        destination = fn.spec.on_success if condition == SUCCESS else fn.spec.on_failure
        if condition != SUCCESS:
            log.warning("%s event %s ended %s", fn.spec.name, item.request_id, condition)
        if destination is None:
            if condition != SUCCESS:
                self.unhandled.append(record)
            return
        encoded = json.dumps(record, separators=(",", ":")).encode("utf-8")
        if len(encoded) > self.async_limit_bytes:
            self.delivery_failures.append(record)
            return
        if destination.kind == "lambda":
            await self.invoke_async(destination.target, encoded)
        else:  # sqs/sns/eventbridge/s3: the record is the message; keep it where tests and people can read it
            self.failures.append(record)
            if self.failure_path is not None:
                await asyncio.to_thread(self._append_failure, encoded)

    def _append_failure(self, encoded: bytes) -> None:
        assert self.failure_path is not None
        with self.failure_path.open("ab") as fh:
            fh.write(encoded + b"\n")

    # -- HTTP ------------------------------------------------------------------------
    async def _start_server(self) -> None:
        from aiohttp import web

        app = web.Application(client_max_size=10 * 1024 * 1024)  # HTTP API's payload limit
        app.router.add_route("*", "/{tail:.*}", self._http)
        # Bounded graceful shutdown: aiohttp waits up to 60 s by default for open connections,
        # so a client that keeps one open would make Ctrl-C hang that long.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=_SHUTDOWN_TIMEOUT_S)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://{self._host}:{port}"

    async def _http(self, request: web.Request) -> web.StreamResponse:
        from aiohttp import web

        body = await request.read()
        event = http_api_event(
            method=request.method,
            path=request.path,
            query=request.query_string,
            headers=[(k, v) for k, v in request.headers.items()],
            body=body,
            source_ip=request.remote or "127.0.0.1",
        )
        fn = self._functions["PriceWebhookProcessor"]
        context = LocalContext(fn.spec.name, event["requestContext"]["requestId"], fn.arn, fn.spec.memory_mb)
        loop = asyncio.get_running_loop()
        response = await loop.run_in_executor(fn.executor, fn.module.handler, event, context)
        payload = response.get("body") or ""
        data = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode("utf-8")
        return web.Response(status=int(response.get("statusCode", 200)), body=data, headers=response.get("headers"))


_TEXT_TYPES: Final = ("text/", "application/json", "application/xml", "application/x-www-form-urlencoded")


def http_api_event(
    *, method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes, source_ip: str
) -> dict[str, Any]:
    """The HTTP API payload 2.0 event API Gateway would build for this request.

    Header names are lowercased and repeats joined with commas; cookies move to
    ``cookies``; a body that is not text (by content type, or not UTF-8) is base64.
    """
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    content_type = joined.get("content-type", "")
    text: str | None = None
    if not content_type or content_type.startswith(_TEXT_TYPES):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text = None
    now = datetime.now(UTC)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": joined,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "local",
            "domainName": joined.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": text is None,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        from urllib.parse import parse_qsl

        params: dict[str, str] = {}
        for k, v in parse_qsl(query, keep_blank_values=True):
            params[k] = f"{params[k]},{v}" if k in params else v
        event["queryStringParameters"] = params
    if body:
        event["body"] = text if text is not None else base64.b64encode(body).decode("ascii")
    return event
