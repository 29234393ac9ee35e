"""Interleaved A/B comparison of two versions of the index on workload W1.

On a shared 2-core VM the same code measured 445k-824k ticks/s from one run of
``w1.py`` to the next, so two separate runs cannot tell a 5% change from noise.
This script loads both versions into one interpreter (each copied under its own
package name), feeds them the same ticks in alternating chunks (A then B, then B
then A, ...) and reports the ratio of their summed times, plus the spread of the
per-chunk ratios. Drift in the machine's speed hits both sides alike; ratios
repeat within about 3%.

    python benchmarks/ab.py HEAD~1              # HEAD~1 against the working tree
    python benchmarks/ab.py main HEAD --scale 0.3 --rounds 20 --mode match
    python benchmarks/ab.py HEAD~1 --workload demo   # the demo's sample: percentage
                                                     # windows, rearm alerts with cooldowns

A version is a git revision (its ``src/cryptoalerts``) or ``.`` for the working
tree. Both versions must fire the same alerts with the same ``seq`` on every
chunk; the script exits 1 otherwise.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import io
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from w1 import Workload, make_w1  # a sibling script, not a package

ROOT = Path(__file__).resolve().parent.parent
_IMPORT = re.compile(r"\b(from|import) cryptoalerts\b")


def materialise(version: str, name: str, into: Path) -> ModuleType:
    """Copy ``src/cryptoalerts`` at ``version`` to ``into/name`` and import it as ``name``."""
    target = into / name
    if version == ".":
        files = {p.relative_to(ROOT / "src" / "cryptoalerts"): p.read_bytes()
                 for p in (ROOT / "src" / "cryptoalerts").rglob("*.py")}  # fmt: skip
    else:
        tar = subprocess.run(["git", "archive", "--format=tar", version, "src/cryptoalerts"],
                             cwd=ROOT, check=True, capture_output=True).stdout  # fmt: skip
        files = {}
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            for member in archive.getmembers():
                extracted = archive.extractfile(member) if member.name.endswith(".py") else None
                if extracted is not None:
                    files[Path(member.name).relative_to("src/cryptoalerts")] = extracted.read()
    for rel, data in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_IMPORT.sub(rf"\1 {name}", data.decode()))
    if str(into) not in sys.path:
        sys.path.insert(0, str(into))
    return importlib.import_module(name)


class Side:
    """One version with its own alerts, index and tick objects for the same workload."""

    def __init__(self, label: str, pkg: ModuleType, w: Workload, rows: list[dict[str, Any]]) -> None:
        self.label = label
        self.pkg = pkg
        self.alerts = [pkg.Alert.from_dict(row) for row in rows]
        tick = pkg.Tick
        self.ticks = [tick(s, p, t) for s, p, t in zip(w.symbols, w.prices.tolist(), w.timestamps.tolist(),
                                                       strict=True)]  # fmt: skip
        self.index: Any = None
        self.seconds = 0.0
        self.fires = 0

    def fresh_index(self) -> None:
        self.index = None
        gc.collect()
        self.index = self.pkg.AlertIndex.from_alerts(self.alerts)
        self.seconds = 0.0
        self.fires = 0


def _timed(fn: Callable[[], list[Any]]) -> tuple[float, list[Any]]:
    gc.disable()
    t0 = time.perf_counter()
    out = fn()
    elapsed = time.perf_counter() - t0
    gc.enable()
    return elapsed, out


def run_build(a: Side, b: Side, rounds: int) -> list[float]:
    """Per-round ratio of A's build time to B's (alternating which goes first)."""
    ratios = []
    a.seconds = b.seconds = 0.0
    for r in range(rounds):
        times = {}
        for side in (a, b) if r % 2 == 0 else (b, a):
            side.index = None
            gc.collect()
            times[side.label], side.index = _timed(lambda s=side: s.pkg.AlertIndex.from_alerts(s.alerts))
            side.seconds += times[side.label]
        ratios.append(times[a.label] / times[b.label])
    return ratios


def run_stream(a: Side, b: Side, w: Workload, mode: str, rounds: int, batch: int) -> tuple[list[float], bool]:
    """Per-chunk ratio of A's time to B's, and whether both fired the same on every chunk."""
    for side in (a, b):
        side.fresh_index()
    n = len(w.symbols)
    edges = np.linspace(0, n, rounds + 1).astype(int)
    ratios = []
    same = True
    for r in range(rounds):
        lo, hi = int(edges[r]), int(edges[r + 1])
        fired: dict[str, list[tuple[str, int]]] = {}
        times: dict[str, float] = {}
        for side in (a, b) if r % 2 == 0 else (b, a):
            if mode == "match":
                match = side.index.match
                chunk = side.ticks[lo:hi]
                elapsed, out = _timed(lambda m=match, c=chunk: [f for t in c for f in m(t)])
            else:
                mb = side.index.match_batch

                def batches(mb: Any = mb, lo: int = lo, hi: int = hi) -> list[Any]:
                    out: list[Any] = []
                    for s in range(lo, hi, batch):
                        e = min(s + batch, hi)
                        out += mb(w.symbols[s:e], w.prices[s:e], w.timestamps[s:e])
                    return out

                elapsed, out = _timed(batches)
            times[side.label] = elapsed
            side.seconds += elapsed
            side.fires += len(out)
            fired[side.label] = [(f.alert_id, f.seq) for f in out]
        same = same and fired[a.label] == fired[b.label]
        ratios.append(times[a.label] / times[b.label])
    return ratios, same


def sample_workload() -> Workload:
    """The demo's sample market and alerts (``cryptoalerts demo``) as a workload."""
    from cryptoalerts.data import load_market, sample_alerts, sample_ticks

    market = load_market()
    ticks = sample_ticks(market)
    symbols = ticks.symbols.tolist()
    return Workload(sample_alerts(), symbols, ticks.prices, ticks.timestamps, sorted(set(symbols)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="git revision, or . for the working tree")
    parser.add_argument("new", nargs="?", default=".", help="git revision, or . for the working tree (default)")
    parser.add_argument("--scale", type=float, default=0.3, help="fraction of W1's alerts and ticks (default 0.3)")
    parser.add_argument("--rounds", type=int, default=10, help="chunks (or builds) per side")
    parser.add_argument("--batch", type=int, default=10_000, help="ticks per match_batch call")
    parser.add_argument("--rearm", type=float, default=0.0, help="share of rearm alerts")
    parser.add_argument("--mode", choices=("build", "match", "batch", "all"), default="all")
    parser.add_argument("--workload", choices=("w1", "demo"), default="w1",
                        help="w1 (default), or the demo's sample market: 3,000 alerts of every condition and "
                             "trigger, with cooldowns, ~520,000 ticks (--scale and --rearm do not apply)")  # fmt: skip
    args = parser.parse_args(argv)

    if args.workload == "demo":
        w = sample_workload()
        title = f"the demo's sample: {len(w.alerts):,} alerts, {len(w.symbols):,} ticks"
    else:
        n = max(1000, int(1_000_000 * args.scale))
        w = make_w1(n, n, rearm=args.rearm)
        title = f"W1 at scale {args.scale}: {n:,} alerts ({args.rearm:.0%} rearm), {n:,} ticks"
    n = len(w.symbols)
    rows = [alert.to_dict() for alert in w.alerts]
    w.alerts = []
    with tempfile.TemporaryDirectory(prefix="cryptoalerts-ab-") as tmp:
        a = Side(f"A={args.base}", materialise(args.base, "ca_ab_a", Path(tmp)), w, rows)
        b = Side(f"B={args.new}", materialise(args.new, "ca_ab_b", Path(tmp)), w, rows)
        del rows
        print(f"{title}; {args.rounds} interleaved rounds; ratio = B's speed / A's speed")
        ok = True
        modes = ("build", "match", "batch") if args.mode == "all" else (args.mode,)
        for mode in modes:
            if mode == "build":
                ratios = run_build(a, b, args.rounds)
                what, same = "builds", True
            else:
                ratios, same = run_stream(a, b, w, mode, args.rounds, args.batch)
                what = "ticks/s" if mode == "match" else f"ticks/s in batches of {args.batch:,}"
            ok = ok and same
            speeds = (
                f"A {a.seconds / args.rounds:.3f} s, B {b.seconds / args.rounds:.3f} s per build"
                if mode == "build"
                else f"A {n / a.seconds:,.0f}, B {n / b.seconds:,.0f} {what}; {a.fires:,} vs {b.fires:,} fires"
                + ("" if same else " (DIFFERENT FIRES)")
            )
            print(f"{mode:>6}: {a.seconds / b.seconds:.3f}x  (per round: median {statistics.median(ratios):.3f}, "
                  f"min {min(ratios):.3f}, max {max(ratios):.3f}; {speeds})")  # fmt: skip
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
