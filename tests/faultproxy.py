"""A loopback HTTP proxy in front of DynamoDB Local that fails a share of requests.

What it injects, each the way real DynamoDB (or a real network) shows it to botocore:

* ``throttle`` / ``provisioned``: HTTP 400 with a ``ThrottlingException`` /
  ``ProvisionedThroughputExceededException`` JSON body (not forwarded);
* ``http500``: HTTP 500 ``InternalServerError`` (not forwarded);
* ``drop_before``: the connection is closed without forwarding;
* ``drop_after``: the request *is* forwarded (the write happens) and then the
  connection is closed, so the client never sees the answer and retries;
* ``partial_batch``: for ``BatchWriteItem`` only, part of the items is forwarded and
  the rest reported back in ``UnprocessedItems``.

Randomness is seeded, so a failing run can be replayed. ``injected`` counts what
was done, so tests can assert that the faults really happened. ``iam`` counts the
IAM authorisations the requests need, as ``(action, "table" | "index")``: a
``TransactWriteItems`` counts as the item actions it holds, which is how IAM
authorises it.
"""

from __future__ import annotations

import json
import random
import zlib
from collections import Counter
from types import TracebackType
from typing import Any, Final, Self

import aiohttp
from aiohttp import web

__all__ = ["ALL_FAULTS", "FaultProxy", "iam_authorisations"]

ALL_FAULTS: Final = ("throttle", "provisioned", "http500", "drop_before", "drop_after", "partial_batch")
_JSON: Final = "application/x-amz-json-1.0"
_HOP_BY_HOP: Final = frozenset({"host", "content-length", "connection", "transfer-encoding", "keep-alive"})
_ITEM_ACTIONS: Final = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                        "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}  # fmt: skip


def iam_authorisations(operation: str, body: dict[str, Any]) -> list[tuple[str, str]]:
    """What IAM checks for one request: ``(action, "table" | "index")`` pairs.

    Transactions have no action of their own: each item is authorised as its
    single-item action (``ConditionCheck`` as ``dynamodb:ConditionCheckItem``).
    """
    if operation in ("TransactWriteItems", "TransactGetItems"):
        return [(f"dynamodb:{_ITEM_ACTIONS[kind]}", "table") for item in body.get("TransactItems", []) for kind in item]
    return [(f"dynamodb:{operation}", "index" if "IndexName" in body else "table")]


def _error(status: int, type_: str, message: str) -> web.Response:
    body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{type_}", "message": message}).encode()
    return _reply(status, body)


def _reply(status: int, body: bytes) -> web.Response:
    # botocore checks x-amz-crc32 of DynamoDB answers; a rewritten body gets a fresh one.
    headers = {"x-amz-crc32": str(zlib.crc32(body)), "x-amzn-RequestId": "faultproxy"}
    return web.Response(status=status, body=body, content_type=_JSON, headers=headers)


class FaultProxy:
    """``async with FaultProxy(upstream, rate=0.2, seed=1) as proxy: ... proxy.url``."""

    def __init__(
        self, upstream: str, *, rate: float = 0.2, seed: int = 0, faults: tuple[str, ...] = ALL_FAULTS
    ) -> None:
        unknown = set(faults) - set(ALL_FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {ALL_FAULTS}")
        self.upstream = upstream.rstrip("/")
        self.rate = rate
        self.faults = faults
        self._rng = random.Random(seed)
        self.requests: Counter[str] = Counter()  # by operation
        self.injected: Counter[str] = Counter()  # by fault
        self.iam: Counter[tuple[str, str]] = Counter()  # by (IAM action, "table" | "index")
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._session = aiohttp.ClientSession(auto_decompress=False)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _choose(self, operation: str, body: dict[str, Any]) -> str | None:
        if self.rate <= 0 or self._rng.random() >= self.rate:
            return None
        choices = [f for f in self.faults if f != "partial_batch"]
        if operation == "BatchWriteItem" and "partial_batch" in self.faults:
            total = sum(len(v) for v in body.get("RequestItems", {}).values())
            # Batch writes are few; half of their faults are partial, so every run sees some.
            if total > 1 and (not choices or self._rng.random() < 0.5):
                return "partial_batch"
        return self._rng.choice(choices) if choices else None

    async def _forward(self, request: web.Request, body: bytes) -> tuple[int, bytes]:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        async with self._session.post(self.upstream + request.path_qs, data=body, headers=headers) as resp:
            return resp.status, await resp.read()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        operation = request.headers.get("X-Amz-Target", "").rpartition(".")[2]
        self.requests[operation] += 1
        parsed = json.loads(raw or b"{}")
        self.iam.update(iam_authorisations(operation, parsed))
        fault = self._choose(operation, parsed)
        if fault is not None:
            self.injected[fault] += 1
        if fault == "throttle":
            return _error(400, "ThrottlingException", "Rate of requests exceeds the allowed throughput.")
        if fault == "provisioned":
            return _error(400, "ProvisionedThroughputExceededException", "The level of configured provisioned "
                          "throughput for the table was exceeded.")  # fmt: skip
        if fault == "http500":
            return _error(500, "InternalServerError", "Internal server error")
        if fault == "drop_before":
            return self._drop(request)
        if fault == "partial_batch":
            return await self._partial_batch(request, parsed)
        status, answer = await self._forward(request, raw)
        if fault == "drop_after":
            return self._drop(request)
        return _reply(status, answer)

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        """Close the connection with no answer: the client sees a dropped connection."""
        transport = request.transport
        if transport is not None:
            transport.abort()
        return web.Response(status=500)  # never reaches the client: the transport is gone

    async def _partial_batch(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        items = [(table, req) for table, reqs in body["RequestItems"].items() for req in reqs]
        keep = self._rng.randint(1, len(items) - 1)
        forwarded: dict[str, list[Any]] = {}
        unprocessed: dict[str, list[Any]] = {}
        for i, (table, req) in enumerate(items):
            (forwarded if i < keep else unprocessed).setdefault(table, []).append(req)
        status, answer = await self._forward(request, json.dumps({**body, "RequestItems": forwarded}).encode())
        if status != 200:
            return _reply(status, answer)
        result = json.loads(answer)
        merged = result.get("UnprocessedItems") or {}
        for table, reqs in unprocessed.items():
            merged.setdefault(table, []).extend(reqs)
        result["UnprocessedItems"] = merged
        return _reply(200, json.dumps(result).encode())
