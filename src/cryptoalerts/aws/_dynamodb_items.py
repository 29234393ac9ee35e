"""The single-table layout of the DynamoDB store: keys, attribute names, item codecs, IAM actions.

Pure data and pure functions (no botocore), so the CloudFormation emitter, the
handler files' ``DEPLOY`` declarations and the store read one definition and can
never disagree, and a handler file can import them without paying for botocore at
cold start. The layout and the reasons for it are written down in ``docs/dynamodb.md``.

Values that are only ever read back whole (an alert definition, a symbol's tick
state, a fire) are stored as compact JSON strings: one ``S`` attribute parses far
faster than a map of ``N`` values (botocore turns every ``N`` into a ``Decimal``),
and Python's float ``repr`` round-trips doubles exactly. Only what a key
condition, filter or TTL must see is a typed attribute.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, Final

from cryptoalerts.model import Alert, Fired
from cryptoalerts.state import AlertState, SymbolState

__all__ = [
    "CHANGE_BUCKETS",
    "DYNAMODB_ACTIONS",
    "DYNAMODB_INIT_ACTIONS",
    "GSI_BY_OWNER",
    "GSI_BY_SYMBOL",
    "GSI_CHANGES",
    "GSI_FIRES",
    "GSI_SYMBOLS",
    "TTL_ATTRIBUTE",
    "table_spec",
]

# Key attributes and item kinds (sort key values / prefixes).
PK: Final = "pk"
SK: Final = "sk"
ALERT_SK: Final = "A"
SYMBOL_SK: Final = "S"
FIRE_PREFIX: Final = "F#"
MARK_PREFIX: Final = "N#"
# Notification mark attributes: claim nonce, claimed-at (epoch seconds), confirmed flag.
MARK_NONCE: Final = "nonce"
MARK_CLAIMED_AT: Final = "cat"
MARK_CONFIRMED: Final = "ok"

TTL_ATTRIBUTE: Final = "ttl"

#: The IAM actions the store uses at run time, on the table and its indexes.
#: ``TransactWriteItems`` has no IAM action of its own: it is authorised as the
#: item actions it contains (the store's commits hold ``Put`` and ``Update`` only,
#: never ``ConditionCheck`` or ``Delete``, so ``ConditionCheckItem``/``DeleteItem``
#: are not needed).
DYNAMODB_ACTIONS: Final = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:UpdateItem",
)
#: What ``DynamoDBStore.init`` needs in addition (deployment, not Lambda roles).
DYNAMODB_INIT_ACTIONS: Final = (
    "dynamodb:CreateTable",
    "dynamodb:DescribeTable",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:UpdateTimeToLive",
)

GSI_BY_SYMBOL: Final = "by_symbol"  # alerts of a symbol: asym -> item
GSI_BY_OWNER: Final = "by_owner"  # alerts of an owner (sparse): own -> item
GSI_FIRES: Final = "fires_by_symbol"  # fires: fsym, fts -> item
GSI_CHANGES: Final = "changes"  # definition changes: cb (bucket), cs (stamp) -> item
GSI_SYMBOLS: Final = "symbols"  # every symbol item: syms (constant) -> keys only

#: Change-feed partitions. Every definition write lands in one of them, so the
#: feed's write load spreads over this many GSI partition keys.
CHANGE_BUCKETS: Final = 4
_SEQ_WIDTH: Final = 12  # zero-padded seq in fire/mark sort keys: ordered as numbers


def table_spec(table_name: str) -> dict[str, Any]:
    """CreateTable keyword arguments plus ``"TimeToLiveAttribute"``; pure data.

    On-demand billing: tick traffic is bursty, and on-demand has no capacity to
    tune per GSI.
    """

    def gsi(name: str, hash_key: str, range_key: str | None = None, projection: str = "ALL") -> dict[str, Any]:
        schema = [{"AttributeName": hash_key, "KeyType": "HASH"}]
        if range_key is not None:
            schema.append({"AttributeName": range_key, "KeyType": "RANGE"})
        return {"IndexName": name, "KeySchema": schema, "Projection": {"ProjectionType": projection}}

    attributes = [("pk", "S"), ("sk", "S"), ("asym", "S"), ("own", "S"), ("fsym", "S"), ("fts", "N"),
                  ("cb", "S"), ("cs", "S"), ("syms", "S")]  # fmt: skip
    return {
        "TableName": table_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attributes],
        "KeySchema": [{"AttributeName": PK, "KeyType": "HASH"}, {"AttributeName": SK, "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [
            gsi(GSI_BY_SYMBOL, "asym"),
            gsi(GSI_BY_OWNER, "own"),
            gsi(GSI_FIRES, "fsym", "fts"),
            gsi(GSI_CHANGES, "cb", "cs"),
            gsi(GSI_SYMBOLS, "syms", projection="KEYS_ONLY"),
        ],
        "TimeToLiveAttribute": TTL_ATTRIBUTE,
    }


# -- small attribute-value helpers ------------------------------------------------
def s(value: str) -> dict[str, str]:
    return {"S": value}


def n(value: float | int) -> dict[str, str]:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def stamp(ns: int) -> str:
    """A change stamp: nanoseconds, zero-padded so strings sort as numbers."""
    return f"{ns:020d}"


def change_bucket(alert_id: str) -> str:
    return f"C#{zlib.crc32(alert_id.encode()) % CHANGE_BUCKETS}"


# -- keys -----------------------------------------------------------------------
def alert_key(alert_id: str) -> dict[str, Any]:
    return {PK: s("A#" + alert_id), SK: s(ALERT_SK)}


def symbol_key(symbol: str) -> dict[str, Any]:
    return {PK: s("S#" + symbol), SK: s(SYMBOL_SK)}


def fire_key(alert_id: str, seq: int) -> dict[str, Any]:
    return {PK: s("A#" + alert_id), SK: s(f"{FIRE_PREFIX}{seq:0{_SEQ_WIDTH}d}")}


def mark_key(alert_id: str, seq: int) -> dict[str, Any]:
    """The notification mark of a fire: its claim (``nonce``, ``cat``) and confirmation (``ok``)."""
    return {PK: s("A#" + alert_id), SK: s(f"{MARK_PREFIX}{seq:0{_SEQ_WIDTH}d}")}


def key_tuple(item: dict[str, Any]) -> tuple[str, str]:
    """An item's primary key as a hashable pair."""
    return (item[PK]["S"], item[SK]["S"])


def ttl_of(alert: Alert) -> int | None:
    """TTL epoch seconds: the first whole second at or after ``expires_at``."""
    if alert.expires_at is None:
        return None
    whole = int(alert.expires_at)
    return whole if whole >= alert.expires_at else whole + 1


# -- alerts -----------------------------------------------------------------------
def definition_values(alert: Alert, change_stamp: str) -> dict[str, Any]:
    """The attributes an alert definition sets (not its firing state)."""
    values: dict[str, Any] = {
        "d": s(dumps(alert.to_dict())),
        "asym": s(alert.symbol),
        "cb": s(change_bucket(alert.id)),
        "cs": s(change_stamp),
    }
    if alert.owner is not None:
        values["own"] = s(alert.owner)
    ttl = ttl_of(alert)
    if ttl is not None:
        values[TTL_ATTRIBUTE] = n(ttl)
    return values


def new_alert_item(alert: Alert, change_stamp: str) -> dict[str, Any]:
    """A complete item for an alert id never stored before (fresh firing state)."""
    return {**alert_key(alert.id), **definition_values(alert, change_stamp), "armed": {"BOOL": True}, "seq": n(0)}


def decode_state(item: dict[str, Any]) -> AlertState:
    lf = item.get("lf")
    return AlertState(
        item.get("armed", {"BOOL": True})["BOOL"],
        None if lf is None else float(lf["N"]),
        int(item.get("seq", {"N": "0"})["N"]),
    )


def decode_alert(item: dict[str, Any]) -> tuple[Alert, AlertState] | None:
    """The alert and its state, or None for a tombstone or a state-only stub."""
    d = item.get("d")
    if d is None:
        return None
    return Alert.from_dict(json.loads(d["S"])), decode_state(item)


def alert_id_of(item: dict[str, Any]) -> str:
    return str(item[PK]["S"])[2:]


# -- symbols ----------------------------------------------------------------------
def decode_symbol(item: dict[str, Any] | None) -> tuple[int, SymbolState | None]:
    if not item:
        return 0, None
    raw = item.get("s")
    return int(item["ver"]["N"]), None if raw is None else SymbolState.from_dict(json.loads(raw["S"]))


def encode_journal(version: int, fires: list[Fired], states: dict[str, AlertState]) -> bytes:
    """The pending journal of a commit too big for one transaction, compressed."""
    body = {"v": version, "fires": [f.to_dict() for f in fires], "states": {k: v.to_dict() for k, v in states.items()}}
    return zlib.compress(dumps(body).encode(), 6)


def decode_journal(blob: bytes) -> tuple[int, list[Fired], dict[str, AlertState]]:
    body = json.loads(zlib.decompress(blob))
    fires = [Fired.from_dict(f) for f in body["fires"]]
    return int(body["v"]), fires, {k: AlertState.from_dict(v) for k, v in body["states"].items()}


# -- fires and marks ----------------------------------------------------------------
def fire_item(fire: Fired) -> dict[str, Any]:
    return {**fire_key(fire.alert_id, fire.seq), "f": s(dumps(fire.to_dict())), "fsym": s(fire.symbol),
            "fts": n(fire.ts)}  # fmt: skip


def decode_fire(item: dict[str, Any]) -> Fired:
    return Fired.from_dict(json.loads(item["f"]["S"]))


def state_update(state: AlertState, version: int, symbol: str) -> tuple[str, dict[str, Any]]:
    """UpdateExpression and values writing an alert's firing state from a commit.

    ``sv``/``svs`` record which symbol version wrote the state, so a late
    completion of an old journal cannot overwrite a newer state.
    """
    values: dict[str, Any] = {":a": {"BOOL": state.armed}, ":q": n(state.seq), ":v": n(version), ":y": s(symbol)}
    expr = "SET armed = :a, seq = :q, sv = :v, svs = :y"
    if state.last_fire_ts is None:
        expr += " REMOVE lf"
    else:
        expr += ", lf = :l"
        values[":l"] = n(state.last_fire_ts)
    return expr, values
