"""The store contract, run unchanged against every store (memory, sqlite, DynamoDB Local).

Each test states one guarantee of ``cryptoalerts.stores.base``; a store that drifts
from the others fails here.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cryptoalerts import Alert, AlertState, Fired, StoreNotInitializedError, SymbolState, ValidationError
from cryptoalerts.stores import AlertStore, MemoryStore, SQLiteStore

NOW = 1_700_000_000.0


def make_alert(alert_id: str, symbol: str = "BTC-USD", **kw: object) -> Alert:
    kw.setdefault("condition", "above")
    if kw["condition"] in ("above", "below", "crosses", "crosses_up", "crosses_down"):
        kw.setdefault("threshold", 100)
    return Alert(id=alert_id, symbol=symbol, **kw)  # type: ignore[arg-type]


def make_fire(alert_id: str, seq: int, ts: float, symbol: str = "BTC-USD", price: float = 101.0) -> Fired:
    return Fired(alert_id, symbol, make_alert("x").condition, price, 99.0, ts, seq, threshold=100.0)


def sym_state(price: float, ts: float) -> SymbolState:
    return SymbolState(price, ts, (ts,), (price,))


@pytest.fixture
async def memory_store() -> AsyncIterator[AlertStore]:
    async with MemoryStore() as s:
        await s.init()
        yield s


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[AlertStore]:
    async with SQLiteStore(str(tmp_path / "alerts.db")) as s:
        await s.init()
        yield s


def store_for(request: pytest.FixtureRequest, kind: str) -> AlertStore:
    """The opened, initialised store of ``kind``; DynamoDB's comes from tests/dynamodb_fixtures.py.

    A synchronous fixture looks them up, because an async fixture cannot set up
    another async fixture from inside the running loop.
    """
    name = f"{kind}_store"
    try:
        store: AlertStore = request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        pytest.fail(f"fixture `{name}` is missing: tests/dynamodb_fixtures.py must provide it")
    return store


@pytest.fixture(params=["memory", "sqlite", pytest.param("dynamodb", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest) -> AlertStore:
    return store_for(request, request.param)


@pytest.fixture(params=["memory", "sqlite"])
def fresh_store(request: pytest.FixtureRequest, tmp_path: Path) -> AlertStore:
    """A store that was never initialised (only stores we can create blank here)."""
    return MemoryStore() if request.param == "memory" else SQLiteStore(str(tmp_path / "blank.db"))


# -- schema -----------------------------------------------------------------------
async def test_uninitialised_store_says_run_init(fresh_store: AlertStore) -> None:
    async with fresh_store:
        with pytest.raises(StoreNotInitializedError, match="cryptoalerts init"):
            await fresh_store.get_alert("a")
        with pytest.raises(StoreNotInitializedError):
            await fresh_store.load(NOW)
        await fresh_store.init()
        await fresh_store.init()  # idempotent
        assert await fresh_store.get_alert("a") is None


# -- alert definitions -------------------------------------------------------------
async def test_put_and_get_round_trip(store: AlertStore) -> None:
    alert = make_alert("a1", owner="alice", channel="sms", note="n", expires_at=NOW + 60, cooldown_s=5,
                       trigger="rearm")
    await store.put_alert(alert)
    got = await store.get_alert("a1")
    assert got is not None
    assert got.alert == alert
    assert got.state == AlertState()
    assert await store.get_alert("missing") is None


async def test_put_alert_replaces_definition_and_keeps_state(store: AlertStore) -> None:
    await store.put_alert(make_alert("a1", trigger="rearm"))
    fired_state = AlertState(False, NOW, 1)
    result = await store.commit("BTC-USD", 0, sym_state(101, NOW), [make_fire("a1", 1, NOW)], {"a1": fired_state})
    assert result.committed
    edited = make_alert("a1", trigger="rearm", threshold=200, note="edited")
    await store.put_alert(edited)
    got = await store.get_alert("a1")
    assert got is not None
    assert got.alert == edited
    assert got.state == fired_state


async def test_put_alerts_bulk_is_idempotent(store: AlertStore) -> None:
    alerts = [make_alert(f"a{i:02d}", symbol=f"S{i % 3}") for i in range(30)]
    assert await store.put_alerts(alerts) == 30
    assert await store.put_alerts(alerts) == 30
    assert await store.put_alerts([]) == 0
    listed = await store.list_alerts()
    assert sorted(s.alert.id for s in listed) == [a.id for a in alerts]
    assert {s.alert.id: s.alert for s in listed} == {a.id: a for a in alerts}


async def test_delete_alert_keeps_its_fires(store: AlertStore) -> None:
    await store.put_alert(make_alert("a1"))
    await store.commit("BTC-USD", 0, sym_state(101, NOW), [make_fire("a1", 1, NOW)], {"a1": AlertState(False, NOW, 1)})
    assert await store.delete_alert("a1") is True
    assert await store.delete_alert("a1") is False
    assert await store.get_alert("a1") is None
    assert await store.get_fire("a1", 1) == make_fire("a1", 1, NOW)


async def test_recreated_id_continues_its_seq(store: AlertStore) -> None:
    """Deleting and re-adding an id must not reuse a recorded (alert_id, seq)."""
    await store.put_alert(make_alert("a1", trigger="rearm"))
    fires = [make_fire("a1", 1, NOW), make_fire("a1", 2, NOW + 1)]
    await store.commit("BTC-USD", 0, sym_state(101, NOW + 1), fires, {"a1": AlertState(False, NOW + 1, 2)})
    await store.delete_alert("a1")
    await store.put_alert(make_alert("a1"))
    got = await store.get_alert("a1")
    assert got is not None
    assert got.state.seq == 2
    assert got.state.armed
    assert got.state.last_fire_ts is None
    snapshot = await store.load(NOW)
    assert [a.id for a in snapshot.alerts] == ["a1"]  # a fresh `once` alert, live again


async def test_list_alerts_by_symbol_and_owner(store: AlertStore) -> None:
    await store.put_alerts([
        make_alert("a1", "BTC-USD", owner="alice"),
        make_alert("a2", "ETH-USD", owner="alice"),
        make_alert("a3", "BTC-USD", owner="bob"),
        make_alert("a4", "BTC-USD"),
    ])
    assert sorted(s.alert.id for s in await store.list_alerts(symbol="BTC-USD")) == ["a1", "a3", "a4"]
    assert sorted(s.alert.id for s in await store.list_alerts(owner="alice")) == ["a1", "a2"]
    assert [s.alert.id for s in await store.list_alerts(symbol="BTC-USD", owner="alice")] == ["a1"]
    assert await store.list_alerts(symbol="DOGE-USD") == []


async def test_load_leaves_out_fired_once_and_expired(store: AlertStore) -> None:
    await store.put_alerts([
        make_alert("once-fired"),
        make_alert("once-live"),
        make_alert("rearm-fired", trigger="rearm"),
        make_alert("expired", expires_at=NOW - 1),
        make_alert("expires-now", expires_at=NOW),
        make_alert("expires-later", expires_at=NOW + 1),
        make_alert("eth", "ETH-USD", condition="below", threshold=5),
    ])
    states = {"once-fired": AlertState(False, NOW, 1), "rearm-fired": AlertState(False, NOW, 1)}
    fires = [make_fire("once-fired", 1, NOW), make_fire("rearm-fired", 1, NOW)]
    assert (await store.commit("BTC-USD", 0, sym_state(101, NOW), fires, states)).committed
    snapshot = await store.load(NOW)
    assert sorted(a.id for a in snapshot.alerts) == ["eth", "expires-later", "once-live", "rearm-fired"]
    assert set(snapshot.state.alerts) == {a.id for a in snapshot.alerts}
    assert snapshot.state.alerts["rearm-fired"] == AlertState(False, NOW, 1)
    assert snapshot.state.symbols == {"BTC-USD": sym_state(101, NOW)}
    assert snapshot.versions.get("BTC-USD") == 1
    assert snapshot.versions.get("ETH-USD", 0) == 0
    # list_alerts still has every alert
    assert len(await store.list_alerts()) == 7


async def test_changes_since_reports_upserts_and_deletes(store: AlertStore) -> None:
    await store.put_alerts([make_alert("a1"), make_alert("a2")])
    w0 = (await store.load(NOW)).watermark
    first = await store.changes_since(w0)
    assert not ({a.id for a in first.upserted} - {"a1", "a2"})  # at-least-once: re-reports allowed
    await store.put_alert(make_alert("a3"))
    await store.put_alert(make_alert("a1", threshold=150))
    assert await store.delete_alert("a2")
    changes = await store.changes_since(first.watermark)
    by_id = {a.id: a for a in changes.upserted}
    assert {"a1", "a3"} <= set(by_id)
    assert by_id["a1"].threshold == 150
    assert "a2" in changes.deleted
    assert "a2" not in by_id
    # nothing new after the latest watermark; the new watermark still works
    later = await store.changes_since(changes.watermark)
    assert not ({a.id for a in later.upserted} - {"a1", "a3"})
    assert set(later.deleted) <= {"a2"}
    # re-adding a deleted id reports it as upserted, not deleted
    await store.put_alert(make_alert("a2"))
    again = await store.changes_since(later.watermark)
    assert "a2" in {a.id for a in again.upserted}
    assert "a2" not in again.deleted
    # reading from the start still gives the current definitions
    everything = await store.changes_since(w0)
    assert {a.id for a in everything.upserted} >= {"a1", "a2", "a3"}


# -- symbol state and firing ------------------------------------------------------------
async def test_symbol_commit_and_conflict(store: AlertStore) -> None:
    empty = await store.get_symbol("BTC-USD")
    assert (empty.version, empty.state, empty.pending) == (0, None, ())
    await store.put_alert(make_alert("a1", trigger="rearm"))
    first = await store.commit("BTC-USD", 0, sym_state(100, NOW), [], {})
    assert first.committed
    assert first.record.version == 1
    assert first.record.state == sym_state(100, NOW)
    lost = await store.commit("BTC-USD", 0, sym_state(999, NOW + 5), [make_fire("a1", 1, NOW + 5)],
                              {"a1": AlertState(False, NOW + 5, 1)})
    assert not lost.committed
    assert (lost.record.version, lost.record.state) == (1, sym_state(100, NOW))
    assert await store.list_fires() == []  # all or nothing: the lost commit wrote no fire
    got = await store.get_alert("a1")
    assert got is not None
    assert got.state == AlertState()  # ... and no alert state
    second = await store.commit("BTC-USD", 1, sym_state(101, NOW + 1), [make_fire("a1", 1, NOW + 1)],
                                {"a1": AlertState(False, NOW + 1, 1)})
    assert second.committed
    assert (await store.get_symbol("BTC-USD")).version == 2
    assert await store.get_alert_states("BTC-USD") == {"a1": AlertState(False, NOW + 1, 1)}
    assert await store.get_alert_states("ETH-USD") == {}


async def test_racing_commits_one_wins(store: AlertStore) -> None:
    results = await asyncio.gather(*(
        store.commit("ETH-USD", 0, sym_state(10 + i, NOW + i), [], {}) for i in range(5)
    ))
    assert sum(r.committed for r in results) == 1
    record = await store.get_symbol("ETH-USD")
    assert record.version == 1
    winner = next(r for r in results if r.committed)
    assert record.state == winner.record.state


async def test_fires_recorded_exactly_once(store: AlertStore) -> None:
    await store.put_alerts([make_alert("a1", trigger="rearm"), make_alert("a2", trigger="rearm")])
    fires = [make_fire("a1", 1, NOW), make_fire("a2", 1, NOW)]
    assert (await store.commit("BTC-USD", 0, sym_state(101, NOW), fires, {})).committed
    # a retry that carries the same keys again (with a different payload) changes nothing
    replay = [make_fire("a1", 1, NOW, price=555.0), make_fire("a2", 1, NOW), make_fire("a1", 2, NOW + 1)]
    assert (await store.commit("BTC-USD", 1, sym_state(101, NOW + 1), replay, {})).committed
    recorded = await store.list_fires()
    assert [f.key for f in recorded] == [("a1", 1), ("a2", 1), ("a1", 2)]
    assert recorded[0].price == 101.0  # the first write stays
    assert await store.get_fire("a1", 2) == make_fire("a1", 2, NOW + 1)
    assert await store.get_fire("a1", 3) is None


async def test_list_fires_filters_and_order(store: AlertStore) -> None:
    fires_btc = [make_fire("b", 1, NOW + 2), make_fire("a", 1, NOW + 2), make_fire("a", 2, NOW + 5),
                 make_fire("c", 1, NOW)]
    fires_eth = [make_fire("e", 1, NOW + 3, symbol="ETH-USD")]
    await store.commit("BTC-USD", 0, sym_state(101, NOW + 5), fires_btc, {})
    await store.commit("ETH-USD", 0, sym_state(101, NOW + 3), fires_eth, {})
    keys = [f.key for f in await store.list_fires()]
    assert keys == [("c", 1), ("a", 1), ("b", 1), ("e", 1), ("a", 2)]
    assert [f.key for f in await store.list_fires(symbol="ETH-USD")] == [("e", 1)]
    assert [f.key for f in await store.list_fires(alert_id="a")] == [("a", 1), ("a", 2)]
    assert [f.key for f in await store.list_fires(ts_from=NOW + 2, ts_to=NOW + 3)] == [("a", 1), ("b", 1), ("e", 1)]
    assert [f.key for f in await store.list_fires(symbol="BTC-USD", ts_from=NOW + 3)] == [("a", 2)]
    assert [f.key for f in await store.list_fires(ts_to=NOW)] == [("c", 1)]
    assert await store.list_fires(alert_id="zzz") == []


# -- notification claims --------------------------------------------------------------
LEASE = 120.0


async def test_claim_is_granted_once_until_its_lease_expires(store: AlertStore) -> None:
    assert await store.claim_notification("a1", 1, now=NOW, lease_s=LEASE) is True
    assert await store.claim_notification("a1", 1, now=NOW + 1, lease_s=LEASE) is False
    assert await store.claim_notification("a1", 1, now=NOW + LEASE, lease_s=LEASE) is False  # exactly lease_s: held
    assert await store.claim_notification("a1", 2, now=NOW, lease_s=LEASE) is True  # keys are (alert_id, seq)
    assert await store.claim_notification("a2", 1, now=NOW, lease_s=LEASE) is True
    assert not await store.notification_confirmed("a1", 1)
    # never confirmed: after the lease another notifier takes it over, and holds it anew
    assert await store.claim_notification("a1", 1, now=NOW + LEASE + 0.5, lease_s=LEASE) is True
    assert await store.claim_notification("a1", 1, now=NOW + LEASE + 1, lease_s=LEASE) is False
    assert await store.claim_notification("a1", 1, now=NOW + 2 * LEASE + 1, lease_s=LEASE) is True


async def test_a_confirmed_notification_is_never_claimed_again(store: AlertStore) -> None:
    assert await store.claim_notification("a1", 1, now=NOW, lease_s=LEASE) is True
    await store.confirm_notification("a1", 1)
    await store.confirm_notification("a1", 1)  # idempotent
    assert await store.notification_confirmed("a1", 1) is True
    assert await store.claim_notification("a1", 1, now=NOW + 10 * LEASE, lease_s=LEASE) is False
    assert await store.claim_notification("a1", 1, now=NOW + 10 * LEASE, lease_s=0) is False
    # a confirmation without a claim blocks claims too
    await store.confirm_notification("a1", 2)
    assert await store.notification_confirmed("a1", 2) is True
    assert await store.claim_notification("a1", 2, now=NOW, lease_s=LEASE) is False
    assert await store.notification_confirmed("a1", 3) is False


async def test_racing_claims_one_wins_also_after_expiry(store: AlertStore) -> None:
    racing = await asyncio.gather(*(store.claim_notification("a2", 1, now=NOW, lease_s=LEASE) for _ in range(5)))
    assert sorted(racing) == [False, False, False, False, True]
    later = NOW + LEASE + 1
    racing = await asyncio.gather(*(store.claim_notification("a2", 1, now=later, lease_s=LEASE) for _ in range(5)))
    assert sorted(racing) == [False, False, False, False, True]


@pytest.mark.parametrize(("now", "lease_s"), [(NOW, -1.0), (NOW, float("nan")), (NOW, float("inf")),
                                             (float("nan"), LEASE)])  # fmt: skip
async def test_claim_rejects_a_bad_lease_or_clock(store: AlertStore, now: float, lease_s: float) -> None:
    with pytest.raises(ValidationError):
        await store.claim_notification("a1", 1, now=now, lease_s=lease_s)
    assert await store.claim_notification("a1", 1, now=NOW, lease_s=LEASE) is True  # nothing was claimed
