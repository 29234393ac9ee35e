"""What is specific to the SQLite store and to open_store's URLs (the contract suite covers the rest)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from cryptoalerts import Alert, AlertState, StoreError, SymbolState, ValidationError
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
