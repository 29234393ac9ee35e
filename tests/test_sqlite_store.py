"""What is specific to the SQLite store and to open_store's URLs (the contract suite covers the rest)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cryptoalerts import Alert, AlertState, Condition, Fired, StoreError, SymbolState, ValidationError
from cryptoalerts.stores import MemoryStore, SQLiteStore, open_store


@pytest.mark.parametrize(
    ("url", "kind", "path"),
    [
        ("memory://", MemoryStore, None),
        ("sqlite:///abs/dir/alerts.db", SQLiteStore, "/abs/dir/alerts.db"),
        ("sqlite://relative.db", SQLiteStore, "relative.db"),
        ("sqlite://sub/dir/rel.db", SQLiteStore, "sub/dir/rel.db"),
        ("sqlite://:memory:", SQLiteStore, ":memory:"),
        ("SQLITE://:memory:", SQLiteStore, ":memory:"),
    ],
)
def test_open_store_url_forms(url: str, kind: type, path: str | None) -> None:
    store = open_store(url)
    assert isinstance(store, kind)
    if path is not None:
        assert isinstance(store, SQLiteStore)
        assert store.path == path


@pytest.mark.parametrize(
    "url", ["", "alerts.db", "postgres://db/x", "sqlite://", "sqlite:///", "memory://x", "dynamodb://?region=x"]
)
def test_open_store_rejects_bad_urls_naming_them(url: str) -> None:
    with pytest.raises(ValidationError) as info:
        open_store(url)
    assert repr(url) in str(info.value)


async def test_data_survives_reopening_the_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/persist.db"
    async with open_store(url) as store:
        await store.init()
        await store.put_alert(Alert(id="a", symbol="BTC", condition="above", threshold=1, trigger="rearm"))
        await store.commit("BTC", 0, SymbolState(2, 10, (10,), (2,)), [], {"a": AlertState(False, 10, 1)})
        assert await store.claim_notification("a", 1, now=10.0, lease_s=60.0)
        await store.confirm_notification("a", 2)
    async with open_store(url) as store:
        await store.init()  # idempotent on an existing file
        got = await store.get_alert("a")
        assert got is not None
        assert got.state == AlertState(False, 10, 1)
        record = await store.get_symbol("BTC")
        assert (record.version, record.state) == (1, SymbolState(2, 10, (10,), (2,)))
        assert await store.claim_notification("a", 1, now=20.0, lease_s=60.0) is False  # the claim persisted
        assert await store.claim_notification("a", 1, now=71.0, lease_s=60.0) is True
        assert await store.notification_confirmed("a", 2) is True
    with sqlite3.connect(tmp_path / "persist.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] == 1
    conn.close()


async def test_in_memory_database_works_on_one_connection() -> None:
    async with open_store("sqlite://:memory:") as store:
        await store.init()
        assert await store.put_alerts([Alert(id=f"a{i}", symbol="S", condition="below", threshold=1)
                                       for i in range(5)]) == 5
        assert len(await store.list_alerts(symbol="S")) == 5


async def test_closed_store_and_bad_watermark_are_clear_errors(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "x.db"))
    with pytest.raises(StoreError, match="not open"):
        await store.get_alert("a")
    async with store:
        await store.init()
        with pytest.raises(ValidationError, match="watermark"):
            await store.changes_since("not-a-watermark")
    await store.close()  # idempotent
    async with MemoryStore() as memory:
        await memory.init()
        with pytest.raises(ValidationError, match="watermark"):
            await memory.changes_since("-3")


async def test_unwritable_path_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open"):
        async with SQLiteStore(str(tmp_path / "missing-dir" / "x.db")):
            pass


def _state(price: float) -> SymbolState:
    return SymbolState(price, 10.0, (10.0,), (price,))


def _fire(symbol: str) -> Fired:
    return Fired(f"{symbol}-a", symbol, Condition.ABOVE, 2.0, 1.0, 10.0, 1, threshold=1.5)


async def test_concurrent_commits_share_one_transaction_each_with_its_own_result(tmp_path: Path) -> None:
    async with SQLiteStore(str(tmp_path / "group.db")) as store:
        await store.init()
        transactions = 0
        write = store._write

        async def counted(fn: Any) -> Any:
            nonlocal transactions
            transactions += 1
            return await write(fn)

        store._write = counted  # type: ignore[method-assign]
        symbols = [f"S{i}" for i in range(40)]
        results = await asyncio.gather(
            *(store.commit(s, 0, _state(1.0 + i), [_fire(s)], {}) for i, s in enumerate(symbols)),
            store.commit("S0", 0, _state(99.0), [], {}),  # the same symbol and version, queued after S0's
        )
        assert transactions == 1
        assert [(r.committed, r.record.symbol, r.record.version) for r in results[:40]] == [
            (True, s, 1) for s in symbols
        ]
        assert not results[40].committed  # it sees the commit before it in the same transaction
        assert (results[40].record.version, results[40].record.state) == (1, _state(1.0))
        store._write = write  # type: ignore[method-assign]
        for i, s in enumerate(symbols):
            assert (await store.get_symbol(s)).state == _state(1.0 + i)
        assert len(await store.list_fires()) == 40


async def test_a_failed_group_fails_each_commit_and_writes_none(tmp_path: Path) -> None:
    async with SQLiteStore(str(tmp_path / "fail.db")) as store:
        await store.init()
        await store._run(lambda conn: conn.execute("DROP TABLE fires"))
        results = await asyncio.gather(
            *(store.commit(s, 0, _state(1.0), [_fire(s)], {}) for s in ("A", "B", "C")), return_exceptions=True
        )
        assert all(isinstance(r, StoreError) for r in results), results
        assert [(await store.get_symbol(s)).version for s in ("A", "B", "C")] == [0, 0, 0]


async def test_a_commit_cancelled_while_queued_is_not_written(tmp_path: Path) -> None:
    async with SQLiteStore(str(tmp_path / "cancel.db")) as store:
        await store.init()
        first = asyncio.create_task(store.commit("A", 0, _state(1.0), [], {}))
        second = asyncio.create_task(store.commit("B", 0, _state(2.0), [], {}))
        await asyncio.sleep(0)  # both are queued; the group has not been written yet
        first.cancel()
        assert (await second).committed
        with pytest.raises(asyncio.CancelledError):
            await first
        assert (await store.get_symbol("A")).version == 0
        assert (await store.get_symbol("B")).version == 1
