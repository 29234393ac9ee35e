"""Data commands: ``demo``, ``replay``, ``init``, ``fired``, ``alerts``.

Every command works on a store named by URL (``--store``; default
``$CRYPTOALERTS_STORE`` or ``sqlite://cryptoalerts.db``, a file in the current
directory). ``replay`` never creates a store on its own: a store that was never
initialised is reported with the ``cryptoalerts init`` command that fixes it.

Ticks go through the engine in batches, and each batch's fires are written (and
flushed) before the next batch is read, so an error late in a large file keeps
everything done before it: the store holds those fires, and replaying the same
file again records nothing twice (its ticks are now stale or duplicates).

rich draws the progress bars and tables; it is imported inside the commands, and
without it the commands print plain text.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final

from cryptoalerts.cli import UsageError
from cryptoalerts.cli._io import BadLine, FireWriter, batched, read_alerts, read_ticks
from cryptoalerts.errors import ValidationError
from cryptoalerts.model import Alert, Condition, Fired
from cryptoalerts.state import TickCounts

if TYPE_CHECKING:
    from cryptoalerts.stores import AlertStore

__all__ = ["register"]

DEFAULT_STORE: Final = "sqlite://cryptoalerts.db"
STORE_ENV: Final = "CRYPTOALERTS_STORE"
TICK_BATCH: Final = 50_000  # ticks per engine call: fewer, larger commits (one per symbol per call)
ALERT_BATCH: Final = 1_000


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the data commands to the ``cryptoalerts`` parser."""
    store_help = f"store URL (default ${STORE_ENV} or {DEFAULT_STORE}; also memory://, sqlite:///abs/path.db, " \
        "dynamodb://Table?region=...&endpoint_url=...)"

    p = sub.add_parser("demo", help="replay the bundled sample market through the engine",
                       description="Replay the sample market shipped with the package (20 symbols over 3 days, "
                       "one tick per symbol every 10 s, with re-delivered duplicates and late ticks; 3,000 alerts "
                       "of every condition) on a temporary SQLite store, show a summary, and write the fires as "
                       "JSONL. The sample is moved to start at the current minute.")
    p.add_argument("--out", default="demo-fires.jsonl", help="where to write the fires (default %(default)s)")
    p.add_argument("--store", default=None, help="store URL (default: a SQLite file in a temporary directory)")
    p.add_argument("--seconds", type=int, default=None, help="replay only the first N seconds of the sample")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("replay", help="replay a ticks file against alerts on a store",
                       description="Upsert the alerts of --alerts into the store, run the ticks of --ticks "
                       "through the engine in order, and write the fires as JSONL (to --out or stdout).")
    p.add_argument("--alerts", required=True, help="alerts file: JSONL or CSV with Alert field names ('-' = stdin)")
    p.add_argument("--ticks", required=True, help="ticks file: CSV symbol,price,ts or JSONL ('-' = stdin)")
    p.add_argument("--store", default=None, help=store_help)
    p.add_argument("--out", default=None, help="fires file (JSONL; default stdout)")
    p.add_argument("--skip-bad-lines", action="store_true", help="report bad lines on stderr and go on")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("init", help="create the store's tables/schema (idempotent)")
    p.add_argument("--store", default=None, help=store_help)
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("fired", help="print recorded fires as JSONL")
    p.add_argument("--store", default=None, help=store_help)
    p.add_argument("--symbol", default=None, help="only this symbol")
    p.add_argument("--alert-id", default=None, help="only this alert")
    p.add_argument("--out", default=None, help="write to this file instead of stdout")
    p.set_defaults(func=cmd_fired)

    p = sub.add_parser("alerts", help="print stored alerts as JSONL (replay --alerts reads it back)")
    p.add_argument("--store", default=None, help=store_help)
    p.add_argument("--symbol", default=None, help="only this symbol")
    p.add_argument("--owner", default=None, help="only this owner")
    p.set_defaults(func=cmd_alerts)


# -- shared helpers ---------------------------------------------------------------
def _store_url(args: argparse.Namespace) -> str:
    return str(args.store or os.environ.get(STORE_ENV) or DEFAULT_STORE)


# The DynamoDB store's own default (10 attempts) suits a service riding out throttling;
# at a terminal an unreachable endpoint took 43 s to report. 4 attempts: about 6 s.
CLI_DYNAMODB_ATTEMPTS: Final = 4


def _open_store(url: str) -> AlertStore:
    """An unopened store for ``url``; a bad URL is a usage error (exit 2).

    A ``dynamodb://`` URL without ``max_attempts`` gets ``CLI_DYNAMODB_ATTEMPTS``.
    """
    from urllib.parse import parse_qs, urlsplit

    from cryptoalerts.stores import open_store

    parts = urlsplit(url)
    if parts.scheme.lower() == "dynamodb" and "max_attempts" not in parse_qs(parts.query):
        url += ("&" if parts.query else "?") + f"max_attempts={CLI_DYNAMODB_ATTEMPTS}"
    try:
        return open_store(url)
    except ValidationError as exc:
        raise UsageError(f"bad store URL: {exc}") from exc


def _check_readable(path: str) -> None:
    """Fail before any work if an input file cannot be opened."""
    if path == "-":
        return
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _report_bad(line: BadLine) -> None:
    print(f"skipped {line}", file=sys.stderr)


@dataclass(slots=True)
class _Totals:
    alerts: int = 0
    ticks: int = 0
    counts: TickCounts = field(default_factory=TickCounts)
    by_condition: Counter[Condition] = field(default_factory=Counter)
    fired_alerts: set[str] = field(default_factory=set)
    fires: int = 0

    def add(self, n_ticks: int, counts: TickCounts, fires: Sequence[Fired]) -> None:
        self.ticks += n_ticks
        self.counts.accepted += counts.accepted
        self.counts.stale += counts.stale
        self.counts.duplicate += counts.duplicate
        self.fires += len(fires)
        for f in fires:
            self.by_condition[f.condition] += 1
            self.fired_alerts.add(f.alert_id)


class _Progress:
    """A rich progress bar on stderr, or nothing (no rich, or stderr not wanted)."""

    def __init__(self, description: str, total: int | None, *, enabled: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        if not enabled:
            return
        try:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
        except ImportError:
            return
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("ticks"),
                   TimeElapsedColumn()]
        if total is not None:
            columns.append(TimeRemainingColumn())
        self._bar = Progress(*columns, console=Console(stderr=True), transient=False)
        self._task = self._bar.add_task(description, total=total)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)


def _print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]], *, stderr: bool) -> None:
    """A rich table, or aligned plain text without rich."""
    stream = sys.stderr if stderr else sys.stdout
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        cells = [[str(cell) for cell in row] for row in (header, *rows)]
        widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
        print(title, file=stream)
        for texts in cells:
            line = [texts[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(texts[1:], widths[1:], strict=True))]
            print("  " + "  ".join(line), file=stream)
        return
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(str(cell) for cell in row))
    Console(file=stream).print(table)


# -- init / fired / alerts ------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    url = _store_url(args)

    async def run() -> None:
        async with _open_store(url) as store:
            await store.init()

    asyncio.run(run())
    print(f"initialised {url}", file=sys.stderr)
    return 0


def cmd_fired(args: argparse.Namespace) -> int:
    url = _store_url(args)

    async def run() -> list[Fired]:
        async with _open_store(url) as store:
            return await store.list_fires(alert_id=args.alert_id, symbol=args.symbol)

    fires = asyncio.run(run())
    with FireWriter(args.out) as out:
        out.write(fires)
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    url = _store_url(args)

    async def run() -> list[Alert]:
        async with _open_store(url) as store:
            return [s.alert for s in await store.list_alerts(symbol=args.symbol, owner=args.owner)]

    alerts = asyncio.run(run())
    sys.stdout.writelines(json.dumps(a.to_dict(), separators=(",", ":")) + "\n" for a in alerts)
    sys.stdout.flush()
    return 0


# -- replay ---------------------------------------------------------------------------
def cmd_replay(args: argparse.Namespace) -> int:
    url = _store_url(args)
    _check_readable(args.alerts)
    _check_readable(args.ticks)
    if args.alerts == "-" and args.ticks == "-":
        raise UsageError("--alerts and --ticks cannot both read standard input")
    totals = _Totals()

    async def run(out: FireWriter, progress: _Progress) -> None:
        from cryptoalerts.engine import AlertEngine

        async with _open_store(url) as store:
            if url.lower().startswith("memory://"):  # a fresh, empty store each run: nothing to lose
                await store.init()
            for alerts in batched(read_alerts(args.alerts), ALERT_BATCH, skip_bad=args.skip_bad_lines,
                                  report=_report_bad):
                totals.alerts += await store.put_alerts(alerts)
            async with AlertEngine(store) as engine:
                for ticks in batched(read_ticks(args.ticks), TICK_BATCH, skip_bad=args.skip_bad_lines,
                                     report=_report_bad):
                    result = await engine.process(ticks)
                    out.write(result.fired)
                    totals.add(len(ticks), result.counts, result.fired)
                    progress.advance(len(ticks))

    started = time.perf_counter()
    where = args.out or "stdout"
    try:
        with FireWriter(args.out) as out, _Progress("replay", None, enabled=sys.stderr.isatty()) as progress:
            asyncio.run(run(out, progress))
    except BaseException:
        if totals.alerts or totals.ticks:  # say what was kept before the error line
            print(f"replay: stopped; kept {totals.alerts} alerts and the {totals.fires} fires of the first "
                  f"{totals.ticks} ticks (recorded in the store, written to {where})", file=sys.stderr)
        raise
    c = totals.counts
    print(f"replay: {totals.alerts} alerts loaded; {totals.ticks} ticks ({c.accepted} accepted, {c.stale} stale, "
          f"{c.duplicate} duplicate) in {time.perf_counter() - started:.2f} s; {totals.fires} fires written to "
          f"{where}", file=sys.stderr)
    return 0


# -- demo -----------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from cryptoalerts.data import SampleTicks, load_market, sample_alerts, sample_ticks

    if args.seconds is not None and args.seconds <= 0:
        raise UsageError("--seconds must be > 0")
    market = load_market()
    ticks = sample_ticks(market, seconds=args.seconds)
    alerts = sample_alerts()
    # Stores leave out alerts whose expires_at is already past (wall clock) when an
    # engine starts, so the sample is moved to start at the current minute: the
    # alerts that expire mid-sample are live when the demo starts, as in production.
    shift = float(int(time.time()) // 60 * 60 - market.t0)
    ticks = SampleTicks(ticks.symbols, ticks.prices, ticks.timestamps + shift)
    alerts = [a if a.expires_at is None else replace(a, expires_at=a.expires_at + shift) for a in alerts]
    totals = _Totals()
    timing: dict[str, float] = {}

    async def run(url: str, out: FireWriter, progress: _Progress) -> None:
        from cryptoalerts.engine import AlertEngine

        async with _open_store(url) as store:
            await store.init()
            await store.put_alerts(alerts)
            started = time.perf_counter()
            async with AlertEngine(store) as engine:
                timing["load"] = time.perf_counter() - started
                started = time.perf_counter()
                for i in range(0, len(ticks), TICK_BATCH):
                    j = min(i + TICK_BATCH, len(ticks))
                    result = await engine.process_arrays(
                        ticks.symbols[i:j].tolist(), ticks.prices[i:j], ticks.timestamps[i:j]
                    )
                    out.write(result.fired)
                    totals.add(j - i, result.counts, result.fired)
                    progress.advance(j - i)
                timing["match"] = time.perf_counter() - started

    seconds = market.seconds if args.seconds is None else min(args.seconds, market.seconds)
    with tempfile.TemporaryDirectory(prefix="cryptoalerts-demo-") as tmp:
        url = args.store or f"sqlite://{os.path.join(tmp, 'demo.db')}"
        print(f"demo: {len(alerts)} alerts, {len(ticks)} ticks ({len(market.symbols)} symbols x {seconds} s, "
              f"with re-delivered duplicates and late ticks) on {url}", file=sys.stderr)
        with FireWriter(args.out) as out, _Progress("matching", len(ticks), enabled=True) as progress:
            asyncio.run(run(url, out, progress))
    _demo_summary(alerts, totals, timing)
    print(f"wrote {totals.fires} fires to {args.out}")
    return 0


def _demo_summary(alerts: list[Alert], totals: _Totals, timing: dict[str, float]) -> None:
    c = totals.counts
    rate = totals.ticks / timing["match"] if timing.get("match") else 0.0
    _print_table("Ticks and timing", ("", "count"), [
        ("accepted", f"{c.accepted:,}"),
        ("stale (late re-delivery)", f"{c.stale:,}"),
        ("duplicate (same ts and price)", f"{c.duplicate:,}"),
        ("total", f"{totals.ticks:,}"),
        ("engine start (load store)", f"{timing.get('load', 0.0):.2f} s"),
        ("matching + commits", f"{timing.get('match', 0.0):.2f} s"),
        ("throughput", f"{rate:,.0f} ticks/s"),
    ], stderr=False)
    per_condition = Counter(a.condition for a in alerts)
    fired_per_condition = Counter(a.condition for a in alerts if a.id in totals.fired_alerts)
    rows: list[tuple[object, ...]] = [
        (cond.value, f"{per_condition[cond]:,}", f"{fired_per_condition[cond]:,}", f"{totals.by_condition[cond]:,}")
        for cond in Condition
    ]
    rows.append(("total", f"{len(alerts):,}", f"{len(totals.fired_alerts):,}", f"{totals.fires:,}"))
    _print_table("Fires by condition", ("condition", "alerts", "alerts fired", "fires"), rows, stderr=False)
