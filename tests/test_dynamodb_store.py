"""What is specific to the DynamoDB store, against DynamoDB Local over real HTTP.

The behaviour every store shares is in ``test_store_contract.py``; here: batching
and ``UnprocessedItems`` retries, pagination, parallel scans, TTL on read, the
journal for commits too big for one transaction, error mapping, ``from_url``.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from cryptoalerts import (
    Alert,
    AlertState,
    Condition,
    Fired,
    StoreError,
    StoreNotInitializedError,
    SymbolState,
    ValidationError,
)
from cryptoalerts.aws.dynamodb import (
    DYNAMODB_ACTIONS,
    DYNAMODB_INIT_ACTIONS,
    MAX_TRANSACT_ACTIONS,
    DynamoDBStore,
    table_spec,
)
from cryptoalerts.stores import open_store
from faultproxy import FaultProxy

pytestmark = pytest.mark.integration

NOW = 1_700_000_000.0
Factory = Callable[..., DynamoDBStore]


def alerts(n: int, symbol: str = "BTC-USD", **kw: object) -> list[Alert]:
    return [Alert(id=f"{symbol}-{i:04d}", symbol=symbol, condition="above", threshold=100 + i, **kw)  # type: ignore[arg-type]
            for i in range(n)]  # fmt: skip


def fire(alert_id: str, seq: int, ts: float = NOW, symbol: str = "BTC-USD") -> Fired:
    return Fired(alert_id, symbol, Condition.ABOVE, 150.0, 140.0, ts, seq, threshold=100.0)


async def test_put_alerts_retries_unprocessed_items(dynamodb_local: str, dynamodb_store_factory: Factory) -> None:
    async with FaultProxy(dynamodb_local, rate=1.0, seed=3, faults=("partial_batch",)) as proxy:
        store = dynamodb_store_factory(endpoint_url=proxy.url)
        async with store:
            await store.init()
            batch = alerts(60)
            assert await store.put_alerts(batch) == 60
            stored = await store.list_alerts(symbol="BTC-USD")
    assert [s.alert for s in stored] == batch
    # 60 items need 3 calls of 25; every call lost some items and was retried.
    assert proxy.injected["partial_batch"] >= 3
    assert proxy.requests["BatchWriteItem"] > 3


async def test_put_alerts_keeps_firing_state_of_known_ids(dynamodb_store: DynamoDBStore) -> None:
    first = alerts(3)
    await dynamodb_store.put_alerts(first)
    committed = await dynamodb_store.commit("BTC-USD", 0, SymbolState(150.0, NOW), [fire(first[0].id, 1)],
                                            {first[0].id: AlertState(False, NOW, 1)})  # fmt: skip
    assert committed.committed
    edited = Alert(id=first[0].id, symbol="BTC-USD", condition="above", threshold=999, note="edited")
    assert await dynamodb_store.put_alerts([edited, edited]) == 1  # repeated ids: the last wins
    got = await dynamodb_store.get_alert(first[0].id)
    assert got is not None
    assert got.alert == edited
    assert got.state == AlertState(False, NOW, 1)


async def test_small_pages_give_the_same_results(dynamodb_store: DynamoDBStore, dynamodb_local: str) -> None:
    await dynamodb_store.put_alerts(alerts(12) + alerts(5, "ETH-USD", owner="ann"))
    fires = [fire(f"BTC-USD-{i:04d}", 1, NOW + i) for i in range(7)]
    await dynamodb_store.commit("BTC-USD", 0, SymbolState(150.0, NOW + 6), fires, {})
    async with FaultProxy(dynamodb_local, rate=0.0) as proxy:
        paged = DynamoDBStore(dynamodb_store.table_name, region="us-east-1", endpoint_url=proxy.url, page_size=2,
                              scan_segments=1)  # fmt: skip
        async with paged:
            assert await paged.list_alerts() == await dynamodb_store.list_alerts()
            assert await paged.list_alerts(owner="ann") == await dynamodb_store.list_alerts(owner="ann")
            assert len(await paged.list_alerts(symbol="BTC-USD")) == 12
            assert await paged.list_fires(symbol="BTC-USD") == fires
            assert await paged.list_fires(alert_id="BTC-USD-0003") == [fires[3]]
            assert await paged.list_fires(ts_from=NOW + 2, ts_to=NOW + 4) == fires[2:5]
            assert (await paged.load(NOW)).alerts == (await dynamodb_store.load(NOW)).alerts
    # 17 alerts in pages of 2 items: many pages per listing, not one
    assert proxy.requests["Scan"] >= 9
    assert proxy.requests["Query"] >= 7


async def test_parallel_scan_load_equals_sequential(dynamodb_store: DynamoDBStore) -> None:
    await dynamodb_store.put_alerts(alerts(40) + alerts(30, "ETH-USD"))
    await dynamodb_store.commit("ETH-USD", 0, SymbolState(3000.0, NOW, (NOW,), (3000.0,)), [], {})
    sequential = DynamoDBStore(dynamodb_store.table_name, region="us-east-1",
                               endpoint_url=dynamodb_store.endpoint_url, scan_segments=1)  # fmt: skip
    parallel = DynamoDBStore(dynamodb_store.table_name, region="us-east-1",
                             endpoint_url=dynamodb_store.endpoint_url, scan_segments=7)  # fmt: skip
    async with sequential, parallel:
        one = await sequential.load(NOW)
        many = await parallel.load(NOW)
    assert sorted(one.alerts, key=lambda a: a.id) == sorted(many.alerts, key=lambda a: a.id)
    assert len(many.alerts) == 70
    assert one.state == many.state
    assert one.versions == many.versions == {"ETH-USD": 1}


async def test_expired_alerts_are_filtered_on_read(dynamodb_store: DynamoDBStore) -> None:
    expired = Alert(id="old", symbol="BTC-USD", condition="above", threshold=1, expires_at=NOW - 0.5)
    live = Alert(id="new", symbol="BTC-USD", condition="above", threshold=1, expires_at=NOW + 60)
    await dynamodb_store.put_alerts([expired, live])
    assert [a.id for a in (await dynamodb_store.load(NOW)).alerts] == ["new"]
    # TTL deletes late (up to days): the item is still there, with its TTL attribute set.
    assert {s.alert.id for s in await dynamodb_store.list_alerts()} == {"old", "new"}
    assert dynamodb_store._client is not None
    raw = await dynamodb_store._client.get_item(TableName=dynamodb_store.table_name,
                                                Key={"pk": {"S": "A#old"}, "sk": {"S": "A"}})  # fmt: skip
    assert raw["Item"]["ttl"] == {"N": str(int(NOW))}  # ceil(NOW - 0.5)


async def test_big_commit_goes_through_a_journal_any_reader_completes(
    dynamodb_store: DynamoDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    n = MAX_TRANSACT_ACTIONS  # with the symbol update and states: too many actions for one transaction
    batch = alerts(n)
    await dynamodb_store.put_alerts(batch)
    fires = [fire(a.id, 1) for a in batch]
    states = {a.id: AlertState(False, NOW, 1) for a in batch}

    async def crash(item: object) -> None:
        raise RuntimeError("crashed after the conditional write")

    monkeypatch.setattr(dynamodb_store, "_complete_journal", crash)
    with pytest.raises(RuntimeError, match="crashed"):
        await dynamodb_store.commit("BTC-USD", 0, SymbolState(150.0, NOW), fires, states)
    monkeypatch.undo()
    assert await dynamodb_store.list_fires(alert_id=batch[5].id) == []  # promised, not yet written
    # Another writer at the old version loses, and reading the symbol completes the journal.
    lost = await dynamodb_store.commit("BTC-USD", 0, SymbolState(1.0, NOW), [], {})
    assert not lost.committed
    assert lost.record.version == 1
    assert lost.record.pending == ()
    assert await dynamodb_store.list_fires(symbol="BTC-USD") == sorted(fires, key=lambda f: (f.ts, f.alert_id))
    assert await dynamodb_store.get_alert_states("BTC-USD") == states
    # The next commit proceeds from the journaled version.
    assert (await dynamodb_store.commit("BTC-USD", 1, SymbolState(151.0, NOW + 1), [], {})).committed


async def test_replayed_commit_never_overwrites_a_recorded_fire(dynamodb_store: DynamoDBStore) -> None:
    await dynamodb_store.put_alerts(alerts(2))
    first = fire("BTC-USD-0000", 1)
    assert (await dynamodb_store.commit("BTC-USD", 0, SymbolState(150.0, NOW), [first], {})).committed
    other = Fired("BTC-USD-0000", "BTC-USD", Condition.ABOVE, 999.0, 1.0, NOW, 1, threshold=100.0)
    new = fire("BTC-USD-0001", 1)
    assert (await dynamodb_store.commit("BTC-USD", 1, SymbolState(151.0, NOW + 1), [other, new], {})).committed
    assert await dynamodb_store.list_fires() == [first, new]


async def test_missing_table_raises_not_initialized(dynamodb_store_factory: Factory) -> None:
    async with dynamodb_store_factory() as store:  # never initialised
        with pytest.raises(StoreNotInitializedError, match="cryptoalerts init") as raised:
            await store.get_alert("a")
        assert isinstance(raised.value.__cause__, ClientError)
        with pytest.raises(StoreNotInitializedError):
            await store.load(NOW)
        await store.init()
        await store.init()  # idempotent
        assert await store.get_alert("a") is None


async def test_unreachable_endpoint_raises_store_error() -> None:
    store = DynamoDBStore("nowhere", region="us-east-1", endpoint_url="http://127.0.0.1:9", max_attempts=1,
                          connect_timeout_s=0.5)  # fmt: skip
    async with store:
        with pytest.raises(StoreError, match="nowhere") as raised:
            await store.get_alert("a")
    assert raised.value.__cause__ is not None


async def test_throttling_past_the_retries_is_a_store_error(dynamodb_local: str, dynamodb_store: DynamoDBStore) -> None:
    async with FaultProxy(dynamodb_local, rate=1.0, faults=("throttle",)) as proxy:
        store = DynamoDBStore(dynamodb_store.table_name, region="us-east-1", endpoint_url=proxy.url, max_attempts=2)
        async with store:
            with pytest.raises(StoreError, match="ThrottlingException"):
                await store.get_alert("a")
    assert proxy.requests["GetItem"] == 2  # botocore retried once, as configured


async def test_uses_exactly_the_declared_actions(dynamodb_local: str, dynamodb_store_factory: Factory) -> None:
    proxy = FaultProxy(dynamodb_local, rate=0.0)
    async with proxy, dynamodb_store_factory(endpoint_url=proxy.url) as store:
        await store.init()
        batch = alerts(3)
        await store.put_alerts(batch)
        await store.put_alert(batch[0])
        await store.commit("BTC-USD", 0, SymbolState(150.0, NOW), [fire(batch[0].id, 1)], {})
        await store.commit("BTC-USD", 1, SymbolState(150.0, NOW + 1), [fire(f"x{i}", 1) for i in range(120)], {})
        await store.load(NOW)
        await store.get_alert_states("BTC-USD")
        await store.list_alerts(symbol="BTC-USD")
        await store.list_fires(alert_id=batch[0].id)
        assert await store.claim_notification(batch[0].id, 1, now=NOW, lease_s=60)
        await store.confirm_notification(batch[0].id, 1)
        assert await store.notification_confirmed(batch[0].id, 1)
        await store.delete_alert(batch[1].id)
    # Transactions count as the item actions they hold (PutItem/UpdateItem; a ConditionCheck
    # would need dynamodb:ConditionCheckItem), which is how IAM authorises them.
    used = {action for action, _ in proxy.iam}
    assert "dynamodb:TransactWriteItems" in {f"dynamodb:{op}" for op in proxy.requests}
    assert used == set(DYNAMODB_ACTIONS) | set(DYNAMODB_INIT_ACTIONS)


def test_table_spec_is_pure_create_table_data() -> None:
    spec = table_spec("Alerts")
    assert spec["TableName"] == "Alerts"
    assert spec["TimeToLiveAttribute"] == "ttl"
    defined = {d["AttributeName"] for d in spec["AttributeDefinitions"]}
    keyed = {k["AttributeName"] for k in spec["KeySchema"]}
    for gsi in spec["GlobalSecondaryIndexes"]:
        keyed |= {k["AttributeName"] for k in gsi["KeySchema"]}
    assert defined == keyed  # DynamoDB rejects attribute definitions no key uses
    assert table_spec("Alerts") == spec
    assert table_spec("Alerts") is not spec


def test_from_url() -> None:
    store = DynamoDBStore.from_url("dynamodb://Alerts?region=eu-west-1&endpoint_url=http://127.0.0.1:8000&scan_segments=8")
    assert (store.table_name, store.region, store.endpoint_url, store.scan_segments) == (
        "Alerts", "eu-west-1", "http://127.0.0.1:8000", 8)  # fmt: skip
    opened = open_store("dynamodb://Alerts?region=us-east-1")
    assert isinstance(opened, DynamoDBStore)
    assert opened.region == "us-east-1"
    assert opened.endpoint_url is None
    with pytest.raises(ValidationError, match="dynamodb://"):
        DynamoDBStore.from_url("sqlite://Alerts")
    with pytest.raises(ValidationError, match="not a dynamodb:// option"):
        DynamoDBStore.from_url("dynamodb://Alerts?regoin=us-east-1")
    with pytest.raises(ValidationError, match="integer"):
        DynamoDBStore.from_url("dynamodb://Alerts?scan_segments=many")
    with pytest.raises(ValidationError, match="table_name"):
        DynamoDBStore.from_url("dynamodb://a?region=us-east-1")
