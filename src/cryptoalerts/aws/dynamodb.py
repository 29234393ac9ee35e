"""The DynamoDB store: one table, aiobotocore, exactly-once symbol commits.

Why it looks the way it does (the full layout is in ``docs/dynamodb.md``):

* **Exactly once.** A symbol item carries ``ver``. :meth:`DynamoDBStore.commit`
  advances it with the condition ``ver = :expected`` in the *same* atomic write that
  records the fires and the alert states: one ``TransactWriteItems`` (<= 100
  actions, with a ``ClientRequestToken`` derived from the commit's content, so a
  retry after a dropped connection is applied once), or, for bigger batches, one
  conditional ``UpdateItem`` that stores the whole commit as a *pending journal*
  on the symbol item. The journal's fires and states are then written
  idempotently and the journal cleared; every reader of that symbol completes a
  journal it finds first, so a crash between the two steps loses nothing.
* **Consistency.** ``get_alert``, ``get_symbol``, ``get_alert_states``,
  ``get_fire``, ``list_fires(alert_id=...)`` and ``load`` read the base table with
  strongly consistent reads. Listings by symbol/owner, ``list_fires`` without an
  alert id and ``changes_since`` read GSIs, which are eventually consistent
  (usually well under a second behind).
* **Errors.** This module is the only place that catches botocore errors; it raises
  :class:`StoreError` (``StoreNotInitializedError`` for a missing table) ``from``
  them. A lost conditional race is not an error: ``commit`` returns
  ``committed=False``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Final, Self
from urllib.parse import parse_qs, urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from cryptoalerts.aws import _dynamodb_items as items
from cryptoalerts.aws._dynamodb_items import DYNAMODB_ACTIONS, DYNAMODB_INIT_ACTIONS, table_spec
from cryptoalerts.errors import StoreError, StoreNotInitializedError, ValidationError
from cryptoalerts.model import Alert, Fired
from cryptoalerts.state import AlertState, IndexState, SymbolState
from cryptoalerts.stores._common import claim_cutoff, fire_order, is_live, not_initialized, parse_watermark
from cryptoalerts.stores.base import AlertStore, ChangeSet, CommitResult, Snapshot, StoredAlert, SymbolRecord

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

# DYNAMODB_ACTIONS, DYNAMODB_INIT_ACTIONS and table_spec are defined in the botocore-free
# layout module (handler files import them from there at no cold-start cost); re-exported here.
__all__ = ["DYNAMODB_ACTIONS", "DYNAMODB_INIT_ACTIONS", "DynamoDBStore", "table_spec"]

MAX_TRANSACT_ACTIONS: Final = 100
MAX_BATCH_WRITE: Final = 25
MAX_BATCH_GET: Final = 100
#: Item size limit is 400 KB; keep the journal and tick history well under it.
MAX_SYMBOL_ITEM_BYTES: Final = 380_000
_TRANSACT_BYTES: Final = 3_500_000  # of the 4 MB transaction limit
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{3,255}$")
_CONDITION_FAILED: Final = "ConditionalCheckFailedException"
_TX_CANCELED: Final = "TransactionCanceledException"
_RETRYABLE_REASONS: Final = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def _code(exc: ClientError) -> str:
    error: dict[str, Any] = dict(exc.response.get("Error") or {})
    return str(error.get("Code", ""))


class DynamoDBStore(AlertStore):
    """:class:`AlertStore` on one DynamoDB table (``dynamodb://Table?region=...``).

    Args:
        table_name: the table (created by :meth:`init`, or by the CloudFormation stack).
        region: AWS region; botocore's usual resolution when None.
        endpoint_url: e.g. DynamoDB Local's ``http://127.0.0.1:8000``.
        client: an already-open aiobotocore DynamoDB client; the store then never
            opens or closes a client of its own.
        scan_segments: parallel ``Scan`` segments in :meth:`load`.
        max_pool_connections: HTTP connections of the store's own client; the
            bound on concurrent requests (segments, batch chunks, journal writes).
        max_attempts: attempts per request, the first included (botocore standard retry mode).
        page_size: ``Limit`` of each Query/Scan page (None: DynamoDB's 1 MB pages).
        change_lookback_s: :meth:`changes_since` re-reads this far behind its
            watermark, covering GSI lag and writer clock skew.
    """

    def __init__(
        self,
        table_name: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        client: DynamoDBClient | None = None,
        scan_segments: int = 4,
        max_pool_connections: int = 32,
        max_attempts: int = 10,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        page_size: int | None = None,
        change_lookback_s: float = 10.0,
    ) -> None:
        if not isinstance(table_name, str) or not _TABLE_NAME.match(table_name):
            raise ValidationError("table_name", table_name, "must be 3-255 characters of A-Z a-z 0-9 _ . -")
        if scan_segments < 1:
            raise ValidationError("scan_segments", scan_segments, "must be >= 1")
        if page_size is not None and page_size < 1:
            raise ValidationError("page_size", page_size, "must be >= 1")
        self.table_name = table_name
        self.region = region
        self.endpoint_url = endpoint_url
        self.scan_segments = scan_segments
        self.max_pool_connections = max_pool_connections
        self.max_attempts = max_attempts
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.page_size = page_size
        self.change_lookback_s = change_lookback_s
        self._client: DynamoDBClient | None = client
        self._owns_client = client is None
        self._stack: contextlib.AsyncExitStack | None = None
        self._limit = asyncio.Semaphore(max(1, max_pool_connections))

    def __repr__(self) -> str:
        return f"DynamoDBStore({self.table_name!r}, region={self.region!r}, endpoint_url={self.endpoint_url!r})"

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> DynamoDBStore:
        """``dynamodb://Table?region=us-east-1&endpoint_url=http://127.0.0.1:8000&scan_segments=8``.

        Raises:
            ValidationError: for another scheme, a missing table or an unknown option.
        """
        parts = urlsplit(url)
        if parts.scheme != "dynamodb":
            raise ValidationError("url", url, "must start with dynamodb://")
        table = parts.netloc + parts.path.rstrip("/")
        options: dict[str, Any] = {}
        for key, values in parse_qs(parts.query, keep_blank_values=True).items():
            value = values[-1]
            if key in ("region", "endpoint_url"):
                options[key] = value or None
            elif key in ("scan_segments", "max_pool_connections", "max_attempts", "page_size"):
                try:
                    options[key] = int(value)
                except ValueError:
                    raise ValidationError(key, value, "must be an integer") from None
            else:
                raise ValidationError(key, value, "is not a dynamodb:// option (region, endpoint_url, scan_segments, "
                                      "max_pool_connections, max_attempts, page_size)")  # fmt: skip
        return cls(table, **{**options, **kwargs})

    # -- connection ---------------------------------------------------------------
    async def open(self) -> None:
        """Open the store's own client (standard retries, explicit timeouts). Idempotent."""
        if self._client is not None:
            return
        from aiobotocore.config import AioConfig
        from aiobotocore.session import get_session

        config = AioConfig(
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
            connect_timeout=self.connect_timeout_s,
            read_timeout=self.read_timeout_s,
            max_pool_connections=self.max_pool_connections,
        )
        stack = contextlib.AsyncExitStack()
        try:
            self._client = await stack.enter_async_context(
                get_session().create_client(
                    "dynamodb", region_name=self.region, endpoint_url=self.endpoint_url, config=config
                )
            )
        except BotoCoreError as exc:
            await stack.aclose()
            raise StoreError(f"cannot create a DynamoDB client: {exc}") from exc
        self._stack = stack

    async def close(self) -> None:
        """Close the store's own client (an injected client is left open). Idempotent."""
        stack, self._stack = self._stack, None
        if stack is not None:
            self._client = None
            await stack.aclose()

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def _call(self, op: str, /, *, passthrough: tuple[str, ...] = (), **kwargs: Any) -> dict[str, Any]:
        """Call ``op``; map botocore errors to ours, except the codes in ``passthrough``."""
        if self._client is None:
            raise StoreError(f"{self!r} is not open; use it as 'async with'")
        method = getattr(self._client, op)
        try:
            async with self._limit:
                result: dict[str, Any] = await method(**kwargs)
                return result
        except ClientError as exc:
            code = _code(exc)
            if code in passthrough:
                raise
            if code == "ResourceNotFoundException":
                raise StoreNotInitializedError(not_initialized(f"DynamoDB table {self.table_name!r}")) from exc
            raise StoreError(f"DynamoDB {op} on {self.table_name!r} failed: {code}: {exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"DynamoDB {op} on {self.table_name!r} failed: {exc}") from exc

    @staticmethod
    async def _backoff(attempt: int, base: float = 0.05, cap: float = 2.0) -> None:
        """Exponential backoff with full jitter (spreads retries of racing writers)."""
        await asyncio.sleep(random.uniform(0, min(cap, base * 2**attempt)))

    async def _pages(self, op: str, **kwargs: Any) -> AsyncIterator[list[dict[str, Any]]]:
        """Every page of a Query/Scan, following ``LastEvaluatedKey``."""
        kwargs["TableName"] = self.table_name
        if self.page_size is not None:
            kwargs["Limit"] = self.page_size
        while True:
            page = await self._call(op, **kwargs)
            yield page.get("Items", [])
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    async def _collect(self, op: str, **kwargs: Any) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        async for page in self._pages(op, **kwargs):
            out.extend(page)
        return out

    # -- init ---------------------------------------------------------------------
    async def init(self) -> None:
        """Create the table if missing, wait until ACTIVE, enable TTL. Idempotent."""
        spec = table_spec(self.table_name)
        ttl_attribute = spec.pop("TimeToLiveAttribute")
        try:
            described = await self._call("describe_table", TableName=self.table_name)
            indexes = {g["IndexName"] for g in described["Table"].get("GlobalSecondaryIndexes", [])}
            wanted = {g["IndexName"] for g in spec["GlobalSecondaryIndexes"]}
            if not wanted <= indexes:
                raise StoreError(f"table {self.table_name!r} exists but lacks the indexes {sorted(wanted - indexes)}: "
                                 "it was not created by cryptoalerts")  # fmt: skip
        except StoreNotInitializedError:
            with contextlib.suppress(ClientError):  # ResourceInUse: another init created it meanwhile
                await self._call("create_table", passthrough=("ResourceInUseException",), **spec)
        if self._client is None:
            raise StoreError(f"{self!r} is not open; use it as 'async with'")
        try:
            waiter = self._client.get_waiter("table_exists")
            await waiter.wait(TableName=self.table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 300})
        except BotoCoreError as exc:
            raise StoreError(f"table {self.table_name!r} did not become ACTIVE: {exc}") from exc
        ttl = await self._call("describe_time_to_live", TableName=self.table_name)
        status = ttl.get("TimeToLiveDescription", {}).get("TimeToLiveStatus")
        if status not in ("ENABLED", "ENABLING"):
            # "TimeToLive is already enabled" races are a ValidationException; harmless.
            with contextlib.suppress(ClientError):
                await self._call(
                    "update_time_to_live",
                    passthrough=("ValidationException",),
                    TableName=self.table_name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
                )

    # -- batch helpers ------------------------------------------------------------
    async def _gather(self, aws: Iterable[Awaitable[Any]]) -> list[Any]:
        """Run awaitables concurrently; the client semaphore bounds the requests in flight."""
        return list(await asyncio.gather(*aws))

    async def _batch_write_chunk(self, requests: list[dict[str, Any]], max_rounds: int = 10) -> None:
        pending = {self.table_name: requests}
        for attempt in range(max_rounds):
            result = await self._call("batch_write_item", RequestItems=pending)
            pending = result.get("UnprocessedItems") or {}
            if not pending.get(self.table_name):
                return
            await self._backoff(attempt)
        left = len(pending.get(self.table_name, []))
        raise StoreError(f"BatchWriteItem left {left} items unprocessed after {max_rounds} rounds (throttled?)")

    async def _put_items(self, puts: Sequence[dict[str, Any]]) -> None:
        """BatchWriteItem in chunks of 25, chunks concurrently, retrying ``UnprocessedItems``."""
        chunks = [
            [{"PutRequest": {"Item": item}} for item in puts[i : i + MAX_BATCH_WRITE]]
            for i in range(0, len(puts), MAX_BATCH_WRITE)
        ]
        await self._gather(self._batch_write_chunk(chunk) for chunk in chunks)

    async def _batch_get_chunk(self, keys: list[dict[str, Any]], projection: str | None) -> list[dict[str, Any]]:
        request: dict[str, Any] = {"Keys": keys, "ConsistentRead": True}
        if projection is not None:
            request["ProjectionExpression"] = projection
        out: list[dict[str, Any]] = []
        for attempt in range(10):
            result = await self._call("batch_get_item", RequestItems={self.table_name: request})
            out.extend(result.get("Responses", {}).get(self.table_name, []))
            unprocessed = (result.get("UnprocessedKeys") or {}).get(self.table_name)
            if not unprocessed:
                return out
            request = unprocessed
            await self._backoff(attempt)
        raise StoreError("BatchGetItem left keys unprocessed after 10 rounds (throttled?)")

    async def _get_items(self, keys: Sequence[dict[str, Any]], projection: str | None = None) -> list[dict[str, Any]]:
        """Strongly consistent BatchGetItem of any number of keys (order not kept)."""
        chunks = [list(keys[i : i + MAX_BATCH_GET]) for i in range(0, len(keys), MAX_BATCH_GET)]
        pages = await self._gather(self._batch_get_chunk(chunk, projection) for chunk in chunks)
        return [item for page in pages for item in page]

    async def _get_item(self, key: dict[str, Any]) -> dict[str, Any] | None:
        result = await self._call("get_item", TableName=self.table_name, Key=key, ConsistentRead=True)
        item: dict[str, Any] | None = result.get("Item")
        return item

    # -- alert definitions ----------------------------------------------------------
    async def put_alert(self, alert: Alert) -> None:
        """Upsert the definition with UpdateItem, so the item's firing state stays."""
        values = items.definition_values(alert, items.stamp(time.time_ns()))
        sets = [f"{name} = :{name}" for name in values]
        sets += ["armed = if_not_exists(armed, :t)", "seq = if_not_exists(seq, :z)"]
        removes = [name for name in ("own", items.TTL_ATTRIBUTE) if name not in values]
        expr = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(f"#{r}" for r in removes) if removes else "")
        names = {f"#{r}": r for r in removes}
        # ``ttl`` is a DynamoDB reserved word: every mention goes through a name placeholder.
        if items.TTL_ATTRIBUTE in values:
            expr = expr.replace(f"{items.TTL_ATTRIBUTE} = :", f"#{items.TTL_ATTRIBUTE} = :", 1)
            names[f"#{items.TTL_ATTRIBUTE}"] = items.TTL_ATTRIBUTE
        attr_values = {f":{k}": v for k, v in values.items()} | {":t": {"BOOL": True}, ":z": items.n(0)}
        kwargs: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
        await self._call(
            "update_item", TableName=self.table_name, Key=items.alert_key(alert.id),
            UpdateExpression=expr, ExpressionAttributeValues=attr_values, **kwargs,
        )  # fmt: skip

    async def put_alerts(self, alerts: Iterable[Alert]) -> int:
        """Bulk upsert: new ids by BatchWriteItem (25 a call), known ids by UpdateItem.

        Ids already in the table (including deleted ones, whose tombstone keeps
        ``seq``) go through :meth:`put_alert` so their firing state is kept;
        BatchWriteItem can only replace whole items. The last of repeated ids wins.
        """
        unique = {a.id: a for a in alerts}
        if not unique:
            return 0
        existing_items = await self._get_items([items.alert_key(i) for i in unique], projection="pk")
        existing = {items.alert_id_of(item) for item in existing_items}
        change_stamp = items.stamp(time.time_ns())
        await self._put_items([items.new_alert_item(a, change_stamp) for i, a in unique.items() if i not in existing])
        await self._gather(self.put_alert(unique[i]) for i in existing)
        return len(unique)

    async def delete_alert(self, alert_id: str) -> bool:
        """Turn the alert item into a tombstone (kept ``seq``, a change stamp for the feed)."""
        change_stamp = items.stamp(time.time_ns())
        try:
            await self._call(
                "update_item", passthrough=(_CONDITION_FAILED,), TableName=self.table_name,
                Key=items.alert_key(alert_id), UpdateExpression="SET cs = :cs REMOVE d, asym, own, armed, lf",
                ConditionExpression="attribute_exists(d)", ExpressionAttributeValues={":cs": items.s(change_stamp)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )  # fmt: skip
        except ClientError as exc:
            # A retry after a lost response finds our own tombstone: it did exist.
            old: dict[str, Any] = dict(exc.response.get("Item") or {})  # type: ignore[call-overload]
            return bool(old.get("cs", {}).get("S") == change_stamp)
        return True

    async def get_alert(self, alert_id: str) -> StoredAlert | None:
        item = await self._get_item(items.alert_key(alert_id))
        decoded = None if item is None else items.decode_alert(item)
        return None if decoded is None else StoredAlert(*decoded)

    async def list_alerts(self, *, symbol: str | None = None, owner: str | None = None) -> list[StoredAlert]:
        """Alerts by symbol or owner from a GSI (eventually consistent), or all by Scan."""
        if symbol is not None:
            kwargs: dict[str, Any] = {"IndexName": items.GSI_BY_SYMBOL, "KeyConditionExpression": "asym = :k",
                                      "ExpressionAttributeValues": {":k": items.s(symbol)}}  # fmt: skip
            if owner is not None:
                kwargs["FilterExpression"] = "own = :o"
                kwargs["ExpressionAttributeValues"][":o"] = items.s(owner)
            found = await self._collect("query", **kwargs)
        elif owner is not None:
            found = await self._collect("query", IndexName=items.GSI_BY_OWNER, KeyConditionExpression="own = :k",
                                        ExpressionAttributeValues={":k": items.s(owner)})  # fmt: skip
        else:
            found = await self._scan_alerts(self.scan_segments)
        out = [StoredAlert(*d) for d in map(items.decode_alert, found) if d is not None]
        out.sort(key=lambda sa: sa.alert.id)
        return out

    async def _scan_segment(self, segment: int, total: int) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "ConsistentRead": True,
            "FilterExpression": "sk = :a AND attribute_exists(d)",
            "ExpressionAttributeValues": {":a": items.s(items.ALERT_SK)},
        }
        if total > 1:
            kwargs |= {"Segment": segment, "TotalSegments": total}
        return await self._collect("scan", **kwargs)

    async def _scan_alerts(self, segments: int) -> list[dict[str, Any]]:
        """Every live alert item, by ``segments`` parallel consistent Scan segments."""
        parts = await self._gather(self._scan_segment(i, segments) for i in range(segments))
        return [item for part in parts for item in part]

    # -- cold start and change feed -------------------------------------------------
    async def load(self, now: float | None = None) -> Snapshot:
        """Symbols first, then alerts (parallel Scan): never a state newer than its version.

        Reading each symbol's version *before* its alerts' states means a commit
        that lands during the load can only make a version stale, never a state;
        a stale version just makes the engine's next commit fail and re-read.
        """
        now = time.time() if now is None else now
        watermark = str(time.time_ns())
        symbol_keys = await self._collect(
            "query", IndexName=items.GSI_SYMBOLS, KeyConditionExpression="syms = :s",
            ExpressionAttributeValues={":s": items.s(items.SYMBOL_SK)},
        )  # fmt: skip
        symbol_items = await self._get_items([{items.PK: k[items.PK], items.SK: k[items.SK]} for k in symbol_keys])
        await self._gather(self._complete_journal(it) for it in symbol_items if "pend" in it)
        versions: dict[str, int] = {}
        symbol_states: dict[str, SymbolState] = {}
        for item in symbol_items:
            symbol = str(item[items.PK]["S"])[2:]
            version, state = items.decode_symbol(item)
            versions[symbol] = version
            if state is not None:
                symbol_states[symbol] = state
        alerts: list[Alert] = []
        states: dict[str, AlertState] = {}
        for item in await self._scan_alerts(self.scan_segments):
            decoded = items.decode_alert(item)
            if decoded is not None and is_live(*decoded, now):
                alerts.append(decoded[0])
                states[decoded[0].id] = decoded[1]
        return Snapshot(alerts, IndexState(symbol_states, states), versions, watermark)

    async def changes_since(self, watermark: str) -> ChangeSet:
        """Definition changes from the ``changes`` GSI, re-reading ``change_lookback_s`` back."""
        since = parse_watermark(watermark)
        new_watermark = str(time.time_ns())
        start = items.stamp(max(0, since - int(self.change_lookback_s * 1e9)))
        pages = await self._gather(
            self._collect("query", IndexName=items.GSI_CHANGES, KeyConditionExpression="cb = :b AND cs > :w",
                          ExpressionAttributeValues={":b": items.s(f"C#{b}"), ":w": items.s(start)})
            for b in range(items.CHANGE_BUCKETS)
        )
        upserted: list[Alert] = []
        deleted: list[str] = []
        for item in (it for page in pages for it in page):
            decoded = items.decode_alert(item)
            if decoded is None:
                deleted.append(items.alert_id_of(item))
            else:
                upserted.append(decoded[0])
        return ChangeSet(upserted, deleted, new_watermark)

    # -- symbols and commits ----------------------------------------------------------
    async def get_symbol(self, symbol: str) -> SymbolRecord:
        """The committed record, strongly consistent; a pending journal is completed first."""
        item = await self._get_item(items.symbol_key(symbol))
        if item is not None and "pend" in item:
            await self._complete_journal(item)
        version, state = items.decode_symbol(item)
        return SymbolRecord(symbol, version, state)

    async def get_alert_states(self, symbol: str) -> dict[str, AlertState]:
        """States of the symbol's alerts, read strongly consistently after completing any journal.

        Which alerts belong to the symbol comes from a GSI (a just-created alert may
        be missing for a moment; it has the fresh state anyway); their states come
        from consistent reads of the base table.
        """
        await self.get_symbol(symbol)
        keys = await self._collect(
            "query", IndexName=items.GSI_BY_SYMBOL, KeyConditionExpression="asym = :k",
            ExpressionAttributeValues={":k": items.s(symbol)}, ProjectionExpression="pk, sk",
        )  # fmt: skip
        found = await self._get_items(keys, projection="pk, d, armed, lf, seq")
        return {items.alert_id_of(it): items.decode_state(it) for it in found if "d" in it}

    @staticmethod
    def _version_condition(expected_version: int) -> str:
        base = "attribute_not_exists(pend) AND "
        return base + ("(attribute_not_exists(ver) OR ver = :e)" if expected_version == 0 else "ver = :e")

    def _symbol_update(self, expected: int, new_state: SymbolState) -> tuple[str, dict[str, Any]]:
        values = {
            ":e": items.n(expected),
            ":v": items.n(expected + 1),
            ":st": items.s(items.dumps(new_state.to_dict())),
            ":g": items.s(items.SYMBOL_SK),
        }
        return "SET ver = :v, s = :st, syms = :g", values

    async def commit(
        self,
        symbol: str,
        expected_version: int,
        new_state: SymbolState,
        fires: Sequence[Fired],
        alert_states: dict[str, AlertState],
    ) -> CommitResult:
        """Advance ``symbol`` and record ``fires`` + ``alert_states`` atomically (see module doc).

        Returns ``committed=False`` with the current record when another writer
        moved the symbol first. Raises :class:`StoreError` when DynamoDB keeps
        failing past the retries.
        """
        fires = list(fires)
        state_json = items.dumps(new_state.to_dict())
        size = len(state_json) + sum(200 + len(f.alert_id) for f in fires) + 120 * len(alert_states)
        fits = 1 + len(fires) + len(alert_states) <= MAX_TRANSACT_ACTIONS and size < _TRANSACT_BYTES
        for attempt in range(8):
            if fits:
                outcome = await self._commit_transaction(symbol, expected_version, new_state, fires, alert_states,
                                                         attempt)  # fmt: skip
            else:
                outcome = await self._commit_journal(symbol, expected_version, new_state, fires, alert_states)
            if outcome is True:
                return CommitResult(True, SymbolRecord(symbol, expected_version + 1, new_state))
            if outcome is None:  # transient (conflicting transaction, throttling): back off and retry
                await self._backoff(attempt)
                continue
            current = await self.get_symbol(symbol)  # completes a journal that blocked us
            if current.version != expected_version:
                return CommitResult(False, current)
        raise StoreError(f"commit of {symbol!r} at version {expected_version} kept failing; giving up")

    async def _commit_transaction(
        self,
        symbol: str,
        expected: int,
        new_state: SymbolState,
        fires: list[Fired],
        alert_states: dict[str, AlertState],
        attempt: int,
    ) -> bool | None:
        """True: committed. False: the version condition failed. None: retry later."""
        table = self.table_name
        new_version = expected + 1
        expr, values = self._symbol_update(expected, new_state)
        actions: list[dict[str, Any]] = [{"Update": {
            "TableName": table, "Key": items.symbol_key(symbol), "UpdateExpression": expr,
            "ConditionExpression": self._version_condition(expected), "ExpressionAttributeValues": values,
        }}]  # fmt: skip
        # A fire key already recorded keeps its first write: the put is conditional,
        # and a transaction cancelled only by such puts is retried without them.
        actions += [{"Put": {"TableName": table, "Item": items.fire_item(f),
                             "ConditionExpression": "attribute_not_exists(pk)"}} for f in fires]  # fmt: skip
        for alert_id, state in alert_states.items():
            update, update_values = items.state_update(state, new_version, symbol)
            update_action = {"TableName": table, "Key": items.alert_key(alert_id), "UpdateExpression": update,
                             "ExpressionAttributeValues": update_values}  # fmt: skip
            actions.append({"Update": update_action})
        # Same content and attempt -> same token: botocore's own retry of a request
        # whose response was lost is then applied once, not rejected as a conflict.
        content = [table, symbol, expected, new_state.to_dict(), attempt, [f.to_dict() for f in fires],
                   {k: v.to_dict() for k, v in sorted(alert_states.items())}]  # fmt: skip
        digest = hashlib.sha256(items.dumps(content).encode())
        try:
            await self._call("transact_write_items", passthrough=(_TX_CANCELED, "TransactionConflictException"),
                             TransactItems=actions, ClientRequestToken=digest.hexdigest()[:32])  # fmt: skip
        except ClientError as exc:
            if _code(exc) != _TX_CANCELED:
                return None
            cancelled: list[Any] = list(exc.response.get("CancellationReasons") or [])
            reasons = [str(r.get("Code", "None")) for r in cancelled]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                return False
            recorded = {i - 1 for i, r in enumerate(reasons[1 : 1 + len(fires)], 1) if r == "ConditionalCheckFailed"}
            if recorded and all(r in ("None", "ConditionalCheckFailed") for r in reasons):
                fires = [f for i, f in enumerate(fires) if i not in recorded]
                return await self._commit_transaction(symbol, expected, new_state, fires, alert_states, attempt)
            if any(r in _RETRYABLE_REASONS for r in reasons):
                return None
            raise StoreError(f"commit of {symbol!r} was cancelled: {reasons}") from exc
        return True

    async def _commit_journal(
        self,
        symbol: str,
        expected: int,
        new_state: SymbolState,
        fires: list[Fired],
        alert_states: dict[str, AlertState],
    ) -> bool:
        """One conditional UpdateItem stores the commit as a journal; then complete it."""
        blob = items.encode_journal(expected + 1, fires, alert_states)
        expr, values = self._symbol_update(expected, new_state)
        if len(blob) + len(values[":st"]["S"]) > MAX_SYMBOL_ITEM_BYTES:
            raise StoreError(f"commit of {symbol!r} is too large for one symbol item ({len(fires)} fires, "
                             f"{len(alert_states)} states): split the batch")  # fmt: skip
        journal_id = uuid.uuid4().hex
        values |= {":p": {"B": blob}, ":i": items.s(journal_id)}
        try:
            result = await self._call(
                "update_item", passthrough=(_CONDITION_FAILED,), TableName=self.table_name,
                Key=items.symbol_key(symbol), UpdateExpression=expr + ", pend = :p, pid = :i",
                ConditionExpression=self._version_condition(expected), ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW", ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )  # fmt: skip
            item = result["Attributes"]
        except ClientError as exc:
            item = dict(exc.response.get("Item") or {})  # type: ignore[call-overload]
            if item.get("pid", {}).get("S") != journal_id:
                return False
            # Our write landed but its response was lost; botocore's retry then failed the condition.
        await self._complete_journal(item)
        return True

    async def _complete_journal(self, item: dict[str, Any]) -> None:
        """Write a pending journal's fires and states idempotently, then clear it.

        Safe to run concurrently and repeatedly: fire puts are same-key,
        same-content; a state write is conditional on not overwriting the state of
        a later commit (``sv``); the clear is conditional on the journal id.
        """
        symbol = str(item[items.PK]["S"])[2:]
        journal_id = item["pid"]["S"]
        version, fires, states = items.decode_journal(item["pend"]["B"])
        # Only missing fires are written: a key already recorded keeps its first write.
        # (No other writer can race us on these keys: the journal blocks the next commit.)
        keys = [items.fire_key(f.alert_id, f.seq) for f in fires]
        recorded = await self._get_items(keys, projection="pk, sk")
        done = {items.key_tuple(it) for it in recorded}
        missing = [f for f, key in zip(fires, keys, strict=True) if items.key_tuple(key) not in done]
        await self._put_items([items.fire_item(f) for f in missing])
        await self._gather(self._write_journal_state(symbol, version, a, st) for a, st in states.items())
        with contextlib.suppress(ClientError):  # someone else cleared it: fine
            await self._call(
                "update_item", passthrough=(_CONDITION_FAILED,), TableName=self.table_name,
                Key=items.symbol_key(symbol), UpdateExpression="REMOVE pend, pid",
                ConditionExpression="pid = :i", ExpressionAttributeValues={":i": items.s(journal_id)},
            )  # fmt: skip

    async def _write_journal_state(self, symbol: str, version: int, alert_id: str, state: AlertState) -> None:
        expr, values = items.state_update(state, version, symbol)
        with contextlib.suppress(ClientError):  # a later commit already wrote a newer state
            await self._call(
                "update_item", passthrough=(_CONDITION_FAILED,), TableName=self.table_name,
                Key=items.alert_key(alert_id), UpdateExpression=expr, ExpressionAttributeValues=values,
                ConditionExpression="attribute_not_exists(sv) OR svs <> :y OR sv < :v",
            )  # fmt: skip

    # -- fires and notifications ----------------------------------------------------------
    async def list_fires(
        self,
        *,
        alert_id: str | None = None,
        symbol: str | None = None,
        ts_from: float | None = None,
        ts_to: float | None = None,
    ) -> list[Fired]:
        """By alert: consistent Query of its item collection. Otherwise: the fires GSI."""
        if ts_from is not None and ts_to is not None and ts_from > ts_to:
            return []
        values: dict[str, Any] = {}
        conditions: list[str] = []
        if ts_from is not None:
            conditions.append("fts >= :lo")
            values[":lo"] = items.n(float(ts_from))
        if ts_to is not None:
            conditions.append("fts <= :hi")
            values[":hi"] = items.n(float(ts_to))
        if alert_id is not None:
            values |= {":pk": items.s("A#" + alert_id), ":f": items.s(items.FIRE_PREFIX)}
            if symbol is not None:
                conditions.append("fsym = :sym")
                values[":sym"] = items.s(symbol)
            kwargs: dict[str, Any] = {"KeyConditionExpression": "pk = :pk AND begins_with(sk, :f)",
                                      "ConsistentRead": True}  # fmt: skip
            if conditions:
                kwargs["FilterExpression"] = " AND ".join(conditions)
            found = await self._collect("query", ExpressionAttributeValues=values, **kwargs)
        elif symbol is not None:
            values[":sym"] = items.s(symbol)
            if len(conditions) == 2:
                key = "fsym = :sym AND fts BETWEEN :lo AND :hi"
            else:
                key = " AND ".join(["fsym = :sym", *conditions])
            found = await self._collect("query", IndexName=items.GSI_FIRES, KeyConditionExpression=key,
                                        ExpressionAttributeValues=values)  # fmt: skip
        else:
            kwargs = {"IndexName": items.GSI_FIRES}
            if conditions:
                kwargs |= {"FilterExpression": " AND ".join(conditions), "ExpressionAttributeValues": values}
            found = await self._collect("scan", **kwargs)
        out = [items.decode_fire(it) for it in found]
        out.sort(key=fire_order)
        return out

    async def get_fire(self, alert_id: str, seq: int) -> Fired | None:
        item = await self._get_item(items.fire_key(alert_id, seq))
        return None if item is None else items.decode_fire(item)

    async def claim_notification(self, alert_id: str, seq: int, *, now: float, lease_s: float) -> bool:
        """Conditional put of the fire's mark item: absent, or unconfirmed and claimed before the cutoff.

        The claim carries a random nonce, so botocore's retry of our own put after a
        lost response (which then fails the condition against our own claim) still
        answers True.
        """
        cutoff = claim_cutoff(now, lease_s)
        nonce = uuid.uuid4().hex
        item = {**items.mark_key(alert_id, seq), items.MARK_NONCE: items.s(nonce), items.MARK_CLAIMED_AT: items.n(now)}
        try:
            await self._call(
                "put_item", passthrough=(_CONDITION_FAILED,), TableName=self.table_name, Item=item,
                ConditionExpression="attribute_not_exists(pk) OR (attribute_not_exists(#ok) AND #at < :cutoff)",
                ExpressionAttributeNames={"#ok": items.MARK_CONFIRMED, "#at": items.MARK_CLAIMED_AT},
                ExpressionAttributeValues={":cutoff": items.n(cutoff)},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )  # fmt: skip
        except ClientError as exc:
            old: dict[str, Any] = dict(exc.response.get("Item") or {})  # type: ignore[call-overload]
            return bool(old.get(items.MARK_NONCE, {}).get("S") == nonce)
        return True

    async def confirm_notification(self, alert_id: str, seq: int) -> None:
        """Set the mark's ``ok`` flag (an upsert: idempotent, also without a claim)."""
        await self._call(
            "update_item", TableName=self.table_name, Key=items.mark_key(alert_id, seq),
            UpdateExpression="SET #ok = :t", ExpressionAttributeNames={"#ok": items.MARK_CONFIRMED},
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )  # fmt: skip

    async def notification_confirmed(self, alert_id: str, seq: int) -> bool:
        item = await self._get_item(items.mark_key(alert_id, seq))
        return item is not None and items.MARK_CONFIRMED in item
