"""The embedded default store: one SQLite file (or ``:memory:``), safe for several processes.

sqlite3 blocks, so every call runs on a small private thread pool, never on the
event loop; each pool thread takes one of the store's own connections for the
duration of a call. The file runs in WAL mode (readers never block the writer)
with a busy timeout, and every write is one ``BEGIN IMMEDIATE`` transaction: the
write lock is taken before the version check of :meth:`SQLiteStore.commit`, so two
processes committing the same symbol serialise and the loser sees the new version.
Commits waiting at the same time share one transaction (``SQLiteStore._flush``).
``synchronous=NORMAL``: a committed transaction survives a crash of the process;
the last ones may be lost on power failure (the database stays consistent).

Schema (``init`` creates it; ``docs/stores.md`` explains it)::

    meta(key PRIMARY KEY, value)                  -- 'schema' version, 'change' counter
    alerts(id PRIMARY KEY, symbol, owner, definition JSON, armed, last_fire_ts, seq, change)
    deleted_alerts(id PRIMARY KEY, change)        -- tombstones for changes_since
    symbols(symbol PRIMARY KEY, version, state JSON)
    fires(alert_id, seq, symbol, ts, record JSON, PRIMARY KEY(alert_id, seq))
    notifications(alert_id, seq, claimed_at, confirmed, PRIMARY KEY(alert_id, seq))
"""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Final, TypeVar

from cryptoalerts.errors import StoreError, StoreNotInitializedError
from cryptoalerts.model import Alert, Fired
from cryptoalerts.state import AlertState, IndexState, SymbolState
from cryptoalerts.stores._common import claim_cutoff, is_live, not_initialized, parse_watermark
from cryptoalerts.stores.base import (
    AlertStore,
    ChangeSet,
    CommitResult,
    Snapshot,
    StoredAlert,
    SymbolRecord,
)

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

T = TypeVar("T")
SCHEMA_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', 1), ('change', 0);
CREATE TABLE IF NOT EXISTS alerts (
    id TEXT PRIMARY KEY,
    symbol TEXT NOT NULL,
    owner TEXT,
    definition TEXT NOT NULL,
    armed INTEGER NOT NULL,
    last_fire_ts REAL,
    seq INTEGER NOT NULL,
    change INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_by_symbol ON alerts (symbol);
CREATE INDEX IF NOT EXISTS alerts_by_owner ON alerts (owner);
CREATE INDEX IF NOT EXISTS alerts_by_change ON alerts (change);
CREATE TABLE IF NOT EXISTS deleted_alerts (id TEXT PRIMARY KEY, change INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS deleted_by_change ON deleted_alerts (change);
CREATE TABLE IF NOT EXISTS symbols (symbol TEXT PRIMARY KEY, version INTEGER NOT NULL, state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fires (
    alert_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    ts REAL NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (alert_id, seq)
);
CREATE INDEX IF NOT EXISTS fires_by_symbol_ts ON fires (symbol, ts);
CREATE INDEX IF NOT EXISTS fires_by_ts ON fires (ts);
CREATE TABLE IF NOT EXISTS notifications (
    alert_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    claimed_at REAL,
    confirmed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (alert_id, seq)
);
"""

# One statement, so one atomic conditional write: insert a claim, or take over an
# unconfirmed claim older than the lease; otherwise change nothing (rowcount 0).
_CLAIM: Final = """
INSERT INTO notifications (alert_id, seq, claimed_at, confirmed) VALUES (?, ?, ?, 0)
ON CONFLICT (alert_id, seq) DO UPDATE SET claimed_at = excluded.claimed_at
WHERE confirmed = 0 AND (claimed_at IS NULL OR claimed_at < ?)
"""

# New rows start after the id's last recorded fire, so a deleted-then-recreated
# alert never reuses an (alert_id, seq) key; an existing row keeps its state.
_UPSERT_ALERT: Final = """
INSERT INTO alerts (id, symbol, owner, definition, armed, last_fire_ts, seq, change)
VALUES (?, ?, ?, ?, 1, NULL, (SELECT COALESCE(MAX(seq), 0) FROM fires WHERE alert_id = ?), ?)
ON CONFLICT (id) DO UPDATE SET
    symbol = excluded.symbol, owner = excluded.owner,
    definition = excluded.definition, change = excluded.change
"""


def _state_of(row: Sequence[Any]) -> AlertState:
    return AlertState(bool(row[0]), row[1], int(row[2]))


def _alert_of(definition: str) -> Alert:
    return Alert.from_dict(json.loads(definition))


def _fire_of(record: str) -> Fired:
    return Fired.from_dict(json.loads(record))


def _record_of(symbol: str, row: Sequence[Any] | None) -> SymbolRecord:
    if row is None:
        return SymbolRecord(symbol, 0, None)
    return SymbolRecord(symbol, int(row[0]), SymbolState.from_dict(json.loads(row[1])))


def _each(fns: list[Callable[[sqlite3.Connection], T]], conn: sqlite3.Connection) -> list[T]:
    """Run ``fns`` in order on one connection (in one transaction, when called by ``_write``)."""
    return [fn(conn) for fn in fns]


def _settle(waiting: Iterable[tuple[object, asyncio.Future[Any]]], error: BaseException) -> None:
    """Fail the futures of ``waiting`` that nobody has settled or cancelled yet."""
    for _, done in waiting:
        if not done.done():
            done.set_exception(error)


def _next_change(conn: sqlite3.Connection) -> int:
    row = conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'change' RETURNING value").fetchone()
    return int(row[0])


def _in_transaction(conn: sqlite3.Connection, begin: str, fn: Callable[[sqlite3.Connection], T]) -> T:
    conn.execute(begin)
    try:
        result = fn(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


class SQLiteStore(AlertStore):
    """:class:`AlertStore` on one SQLite database (``sqlite:///abs.db``, ``sqlite://:memory:``).

    Args:
        path: a file path, or ``":memory:"`` (one connection, private to this store).
        busy_timeout_s: how long a writer waits for another process's lock before
            :class:`StoreError`.
        connections: pool size (threads and connections); 1 for ``:memory:``.
    """

    def __init__(self, path: str, *, busy_timeout_s: float = 30.0, connections: int = 4) -> None:
        self.path = path
        self.busy_timeout_s = busy_timeout_s
        self._size = 1 if path == ":memory:" else max(1, connections)
        self._pool: queue.Queue[sqlite3.Connection] | None = None
        self._all: list[sqlite3.Connection] = []
        self._executor: ThreadPoolExecutor | None = None
        # One writer at a time within the process: pooled connections contending for the
        # database lock wait in SQLite's busy handler, which sleeps (1 ms, 2 ms, 5 ms...).
        self._write_lock = threading.Lock()
        # Commits waiting for the next group transaction, and the task writing them.
        self._queued: list[tuple[Callable[[sqlite3.Connection], CommitResult], asyncio.Future[CommitResult]]] = []
        self._flusher: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # -- plumbing ---------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout_s * 1000)}")
        if self.path != ":memory:":
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    async def open(self) -> None:
        if self._executor is not None:
            return
        executor = ThreadPoolExecutor(max_workers=self._size, thread_name_prefix="cryptoalerts-sqlite")
        try:
            conns = await asyncio.get_running_loop().run_in_executor(
                executor, lambda: [self._connect() for _ in range(self._size)]
            )
        except sqlite3.Error as exc:
            executor.shutdown(wait=False)
            raise StoreError(f"cannot open SQLite database {self.path!r}: {exc}") from exc
        pool: queue.Queue[sqlite3.Connection] = queue.Queue()
        for conn in conns:
            pool.put(conn)
        self._pool, self._all, self._executor = pool, conns, executor

    async def close(self) -> None:
        executor, conns = self._executor, self._all
        if executor is None:
            return
        self._executor, self._pool, self._all = None, None, []
        await asyncio.to_thread(executor.shutdown, wait=True)
        for conn in conns:
            conn.close()

    def _with_connection(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        pool = self._pool
        if pool is None:
            raise StoreError(f"{self!r} is closed; use `async with` or await open() first")
        conn = pool.get()
        try:
            return fn(conn)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                raise StoreNotInitializedError(not_initialized(f"SQLite database {self.path!r}")) from exc
            raise StoreError(f"SQLite database {self.path!r}: {exc}") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"SQLite database {self.path!r}: {exc}") from exc
        finally:
            pool.put(conn)

    def _executor_or_raise(self) -> ThreadPoolExecutor:
        if self._executor is None:
            raise StoreError(f"{self!r} is not open; use `async with` or await open() first")
        return self._executor

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        executor = self._executor_or_raise()
        return await asyncio.get_running_loop().run_in_executor(executor, self._with_connection, fn)

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def write(conn: sqlite3.Connection) -> T:
            with self._write_lock:
                return _in_transaction(conn, "BEGIN IMMEDIATE", fn)

        return await self._run(write)

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """One read transaction: a consistent snapshot across several queries."""
        return await self._run(lambda conn: _in_transaction(conn, "BEGIN", fn))

    async def init(self) -> None:
        await self._run(lambda conn: conn.executescript(_SCHEMA))

    # -- alert definitions ------------------------------------------------------
    async def put_alert(self, alert: Alert) -> None:
        await self.put_alerts([alert])

    async def put_alerts(self, alerts: Iterable[Alert]) -> int:
        rows = [(a.id, a.symbol, a.owner, json.dumps(a.to_dict()), a.id) for a in alerts]
        if not rows:
            return 0

        def put(conn: sqlite3.Connection) -> int:
            change = _next_change(conn)
            conn.executemany(_UPSERT_ALERT, [(*row, change) for row in rows])
            conn.executemany("DELETE FROM deleted_alerts WHERE id = ?", [(row[0],) for row in rows])
            return len(rows)

        return await self._write(put)

    async def delete_alert(self, alert_id: str) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            if conn.execute("DELETE FROM alerts WHERE id = ?", (alert_id,)).rowcount == 0:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO deleted_alerts (id, change) VALUES (?, ?)", (alert_id, _next_change(conn))
            )
            return True

        return await self._write(delete)

    async def get_alert(self, alert_id: str) -> StoredAlert | None:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT armed, last_fire_ts, seq, definition FROM alerts WHERE id = ?", (alert_id,)
            ).fetchone()
        )
        return None if row is None else StoredAlert(_alert_of(row[3]), _state_of(row))

    async def list_alerts(self, *, symbol: str | None = None, owner: str | None = None) -> list[StoredAlert]:
        sql = "SELECT armed, last_fire_ts, seq, definition FROM alerts WHERE 1 = 1"
        args: list[Any] = []
        if symbol is not None:
            sql += " AND symbol = ?"
            args.append(symbol)
        if owner is not None:
            sql += " AND owner = ?"
            args.append(owner)
        rows = await self._run(lambda conn: conn.execute(sql + " ORDER BY id", args).fetchall())
        return [StoredAlert(_alert_of(r[3]), _state_of(r)) for r in rows]

    async def load(self, now: float | None = None) -> Snapshot:
        def read(conn: sqlite3.Connection) -> tuple[int, list[Any], list[Any]]:
            change = conn.execute("SELECT value FROM meta WHERE key = 'change'").fetchone()[0]
            alerts = conn.execute("SELECT armed, last_fire_ts, seq, definition FROM alerts").fetchall()
            symbols = conn.execute("SELECT symbol, version, state FROM symbols").fetchall()
            return int(change), alerts, symbols

        change, alert_rows, symbol_rows = await self._read(read)
        now = time.time() if now is None else now
        alerts: list[Alert] = []
        states: dict[str, AlertState] = {}
        for row in alert_rows:
            alert, state = _alert_of(row[3]), _state_of(row)
            if is_live(alert, state, now):
                alerts.append(alert)
                states[alert.id] = state
        symbols = {s: SymbolState.from_dict(json.loads(st)) for s, _, st in symbol_rows}
        versions = {s: int(v) for s, v, _ in symbol_rows}
        return Snapshot(alerts, IndexState(symbols, states), versions, str(change))

    async def changes_since(self, watermark: str) -> ChangeSet:
        since = parse_watermark(watermark)

        def read(conn: sqlite3.Connection) -> tuple[int, list[Any], list[Any]]:
            change = conn.execute("SELECT value FROM meta WHERE key = 'change'").fetchone()[0]
            upserted = conn.execute("SELECT definition FROM alerts WHERE change > ?", (since,)).fetchall()
            deleted = conn.execute("SELECT id FROM deleted_alerts WHERE change > ?", (since,)).fetchall()
            return int(change), upserted, deleted

        change, upserted, deleted = await self._read(read)
        return ChangeSet([_alert_of(r[0]) for r in upserted], [r[0] for r in deleted], str(change))

    # -- symbol state and firing --------------------------------------------------
    async def get_symbol(self, symbol: str) -> SymbolRecord:
        row = await self._run(
            lambda conn: conn.execute("SELECT version, state FROM symbols WHERE symbol = ?", (symbol,)).fetchone()
        )
        return _record_of(symbol, row)

    async def get_alert_states(self, symbol: str) -> dict[str, AlertState]:
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT armed, last_fire_ts, seq, id FROM alerts WHERE symbol = ?", (symbol,)
            ).fetchall()
        )
        return {r[3]: _state_of(r) for r in rows}

    async def commit(
        self,
        symbol: str,
        expected_version: int,
        new_state: SymbolState,
        fires: Sequence[Fired],
        alert_states: dict[str, AlertState],
    ) -> CommitResult:
        state_json = json.dumps(new_state.to_dict())
        fire_rows = [(f.alert_id, f.seq, f.symbol, f.ts, json.dumps(f.to_dict())) for f in fires]
        state_rows = [(int(s.armed), s.last_fire_ts, s.seq, a) for a, s in alert_states.items()]

        def commit(conn: sqlite3.Connection) -> CommitResult:
            row = conn.execute("SELECT version, state FROM symbols WHERE symbol = ?", (symbol,)).fetchone()
            current = _record_of(symbol, row)
            if current.version != expected_version:
                return CommitResult(False, current)
            conn.execute(
                "INSERT INTO symbols (symbol, version, state) VALUES (?, ?, ?) ON CONFLICT (symbol) DO UPDATE"
                " SET version = excluded.version, state = excluded.state",
                (symbol, expected_version + 1, state_json),
            )
            conn.executemany("INSERT OR IGNORE INTO fires VALUES (?, ?, ?, ?, ?)", fire_rows)
            conn.executemany("UPDATE alerts SET armed = ?, last_fire_ts = ?, seq = ? WHERE id = ?", state_rows)
            return CommitResult(True, SymbolRecord(symbol, expected_version + 1, new_state))

        self._executor_or_raise()  # a closed store says so now, not from inside the group
        loop = asyncio.get_running_loop()
        done: asyncio.Future[CommitResult] = loop.create_future()
        self._queued.append((commit, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        """Write the queued commits, all waiting at once in one transaction, until none are left.

        Each commit checks its own symbol's version inside the transaction and sees the
        ones before it, so the outcome is the same as one transaction each in this order;
        a failure of the transaction fails each of its commits (none of them is written).
        One transaction instead of one per symbol: the thread hop, the lock and the WAL
        write are paid once per group (the engine commits up to ``max_concurrency``
        symbols at once).
        """
        while self._queued:
            group = [(commit, done) for commit, done in self._queued if not done.done()]  # not a cancelled one
            self._queued = []
            if not group:
                continue
            try:
                results = await self._write(partial(_each, [commit for commit, _ in group]))
            except Exception as exc:
                _settle(group, exc)
                continue
            except BaseException:  # this task was cancelled (loop shutdown): nobody is left to write the rest
                _settle(group + self._queued, StoreError(f"{self!r}: commit interrupted"))
                self._queued = []
                raise
            for (_, done), result in zip(group, results, strict=True):
                if not done.done():
                    done.set_result(result)

    async def list_fires(
        self,
        *,
        alert_id: str | None = None,
        symbol: str | None = None,
        ts_from: float | None = None,
        ts_to: float | None = None,
    ) -> list[Fired]:
        sql = "SELECT record FROM fires WHERE 1 = 1"
        args: list[Any] = []
        for clause, value in (
            (" AND alert_id = ?", alert_id),
            (" AND symbol = ?", symbol),
            (" AND ts >= ?", ts_from),
            (" AND ts <= ?", ts_to),
        ):
            if value is not None:
                sql += clause
                args.append(value)
        rows = await self._run(lambda conn: conn.execute(sql + " ORDER BY ts, alert_id, seq", args).fetchall())
        return [_fire_of(r[0]) for r in rows]

    async def get_fire(self, alert_id: str, seq: int) -> Fired | None:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT record FROM fires WHERE alert_id = ? AND seq = ?", (alert_id, seq)
            ).fetchone()
        )
        return None if row is None else _fire_of(row[0])

    async def claim_notification(self, alert_id: str, seq: int, *, now: float, lease_s: float) -> bool:
        args = (alert_id, seq, now, claim_cutoff(now, lease_s))
        return await self._run(lambda conn: conn.execute(_CLAIM, args).rowcount == 1)

    async def confirm_notification(self, alert_id: str, seq: int) -> None:
        await self._run(
            lambda conn: conn.execute(
                "INSERT INTO notifications (alert_id, seq, claimed_at, confirmed) VALUES (?, ?, NULL, 1)"
                " ON CONFLICT (alert_id, seq) DO UPDATE SET confirmed = 1",
                (alert_id, seq),
            )
        )

    async def notification_confirmed(self, alert_id: str, seq: int) -> bool:
        row = await self._run(
            lambda conn: conn.execute(
                "SELECT confirmed FROM notifications WHERE alert_id = ? AND seq = ?", (alert_id, seq)
            ).fetchone()
        )
        return row is not None and bool(row[0])
