"""Workload W1 and its measurements: the figures in docs/performance.md.

W1 (seeded): 1,000 symbols; 1,000,000 alerts spread Zipf-like over symbols (a few
symbols hold most); thresholds within +-20% of each symbol's start price, on the
side where they have not fired yet; 80% above/below, 20% crossings, channels and
percentage moves; 1,000,000 ticks, a random walk per symbol with ~0.05% steps, so
most ticks fire nothing. Every figure is reported beside a baseline measured in the
same process.

    python benchmarks/w1.py                # full size (about 2-3 minutes, ~6 GB peak)
    python benchmarks/w1.py --scale 0.01   # a quick look

The pytest-benchmark wrappers are in ``bench_index.py``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

import numpy as np

import cryptoalerts
from cryptoalerts import Alert, AlertIndex, Tick


@dataclass
class Workload:
    alerts: list[Alert]
    symbols: list[str]  # one per tick
    prices: np.ndarray[Any, Any]
    timestamps: np.ndarray[Any, Any]
    names: list[str]  # the symbol universe


def make_w1(
    n_alerts: int = 1_000_000, n_ticks: int = 1_000_000, n_symbols: int = 1_000, seed: int = 1, rearm: float = 0.0
) -> Workload:
    """W1; ``rearm`` is the share of alerts with ``trigger="rearm"`` (W1 leaves it open: default once)."""
    rng = np.random.default_rng(seed)
    names = [f"S{i:04d}-USD" for i in range(n_symbols)]
    start = np.exp(rng.uniform(np.log(0.05), np.log(60_000), n_symbols))
    weights = 1.0 / np.arange(1, n_symbols + 1) ** 1.1  # Zipf-like
    owner = rng.choice(n_symbols, size=n_alerts, p=weights / weights.sum())
    kind = rng.random(n_alerts)
    side = rng.random(n_alerts) < 0.5
    frac = rng.uniform(0.001, 0.20, n_alerts)
    once = rng.random(n_alerts) >= rearm
    alerts: list[Alert] = []
    append = alerts.append
    for i in range(n_alerts):
        sym = names[owner[i]]
        p0 = float(start[owner[i]])
        up = bool(side[i])
        level = round(p0 * (1 + frac[i] if up else 1 - frac[i]), 6)
        trigger = "once" if once[i] else "rearm"
        k = kind[i]
        if k < 0.8:
            cond = "above" if up else "below"
            append(Alert(id=f"a{i}", symbol=sym, condition=cond, threshold=level, trigger=trigger))
        elif k < 0.88:
            cond = "crosses_up" if up else "crosses_down"
            append(Alert(id=f"a{i}", symbol=sym, condition=cond if k < 0.86 else "crosses", threshold=level,
                         trigger=trigger))  # fmt: skip
        elif k < 0.94:
            lo, hi = sorted((level, round(level * (1.01 if up else 0.99), 6)))
            cond = "enters_channel" if k < 0.92 else "exits_channel"
            append(Alert(id=f"a{i}", symbol=sym, condition=cond, lower=lo, upper=hi, trigger=trigger))
        else:
            cond = "moves_up_pct" if up else "moves_down_pct"
            append(Alert(id=f"a{i}", symbol=sym, condition=cond, pct=float(rng.choice([1.0, 2.0, 3.0, 5.0])),
                         window_s=float(rng.choice([60.0, 300.0, 900.0])), trigger=trigger))  # fmt: skip
    tick_sym = rng.integers(0, n_symbols, n_ticks)
    steps = rng.normal(0.0, 0.0005, n_ticks)
    # per-symbol random walk, vectorised: cumulative sum of the steps within each symbol
    order = np.argsort(tick_sym, kind="stable")
    walk = np.empty(n_ticks)
    sorted_sym = tick_sym[order]
    csum = np.cumsum(steps[order])
    first = np.flatnonzero(np.r_[True, np.diff(sorted_sym) != 0])
    offsets = np.repeat(csum[first] - steps[order][first], np.diff(np.r_[first, n_ticks]))
    walk[order] = csum - offsets
    prices = np.round(start[tick_sym] * np.exp(walk), 8)
    timestamps = 1_700_000_000.0 + np.arange(n_ticks) * 0.001  # 1,000 ticks/s in all
    return Workload(alerts, [names[i] for i in tick_sym], prices, timestamps, names)


def _time(fn: Any, *args: Any) -> tuple[float, Any]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def measure_build(w: Workload) -> dict[str, float]:
    """Bulk build time and memory per alert; baseline: a dict of the alerts by id."""
    baseline_s, _ = _time(lambda a: {x.id: x for x in a}, w.alerts)
    build_s, index = _time(AlertIndex.from_alerts, w.alerts)
    del index
    gc.collect()
    tracemalloc.start()
    index = AlertIndex.from_alerts(w.alerts)
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    alert_bytes = sys.getsizeof(w.alerts[0]) + sum(
        sys.getsizeof(getattr(w.alerts[0], f)) for f in ("id", "threshold")
    )
    del index
    return {
        "build_s": build_s,
        "dict_baseline_s": baseline_s,
        "index_bytes_per_alert": current / len(w.alerts),
        "alert_object_bytes": float(alert_bytes),
    }


def measure_match(w: Workload, n_ticks: int, n_scan: int) -> dict[str, float]:
    """Per-tick ``match``: median and p99 of single calls; baseline: the brute-force scan."""
    index = AlertIndex.from_alerts(w.alerts)
    ticks = [Tick(s, p, t) for s, p, t in zip(w.symbols[:n_ticks], w.prices[:n_ticks].tolist(),
                                                w.timestamps[:n_ticks].tolist(), strict=True)]  # fmt: skip
    # Throughput first, in a plain loop without per-call timers.
    match = index.match
    gc.collect()
    gc.disable()
    t_all = time.perf_counter()
    fires = sum(len(match(tick)) for tick in ticks)
    untimed = time.perf_counter() - t_all
    gc.enable()
    # Then each call timed, on a fresh index (same ticks, so the same fires).
    del index, match
    index = AlertIndex.from_alerts(w.alerts)
    clock = time.perf_counter_ns
    overhead = statistics.median(-(clock() - clock()) for _ in range(10_000))
    match = index.match
    samples = []
    timed_fires = 0
    gc.collect()
    gc.disable()
    t_all = time.perf_counter()
    for tick in ticks:
        t0 = clock()
        fired = match(tick)
        samples.append(clock() - t0)
        timed_fires += len(fired)
    total = time.perf_counter() - t_all
    gc.enable()
    samples.sort()
    if timed_fires != fires:
        raise RuntimeError(f"timed run fired {timed_fires}, untimed run {fires}")
    # The brute-force scan of the symbol's alerts on a prefix of the same ticks.
    by_symbol: dict[str, list[Alert]] = {}
    for alert in w.alerts:
        by_symbol.setdefault(alert.symbol, []).append(alert)
    scan_samples = []
    for tick in ticks[:n_scan]:
        syms_alerts = by_symbol.get(tick.symbol, [])
        t0 = clock()
        # the least a scan must do: compare the price with every alert of the symbol
        [a for a in syms_alerts if a.threshold is not None and tick.price >= a.threshold]
        scan_samples.append(clock() - t0)
    scan_samples.sort()
    return {
        "ticks": float(len(ticks)),
        "fires": float(fires),
        "ticks_per_s": len(ticks) / total,
        "untimed_ticks_per_s": len(ticks) / untimed,
        "median_ns": samples[len(samples) // 2] - overhead,
        "p99_ns": samples[int(len(samples) * 0.99)] - overhead,
        "timer_overhead_ns": overhead,
        "scan_median_ns": scan_samples[len(scan_samples) // 2] - overhead,
        "scan_p99_ns": scan_samples[int(len(scan_samples) * 0.99)] - overhead,
    }


def measure_batch(w: Workload, batch: int) -> dict[str, float]:
    """``match_batch`` ticks/s, mixed-symbol and per-symbol batches; floor: raw searchsorted.

    The floor runs batch by batch right after the index has matched the same batch,
    so the ratio compares like with like even when the machine's speed drifts (on a
    shared 2-core VM, a run-to-run swing of 30% was seen; interleaving keeps the
    ratio within a few percent).
    """
    n = len(w.prices)
    # Floor: searchsorted of each batch's per-symbol groups into that symbol's sorted thresholds.
    above: dict[str, list[float]] = {}
    below: dict[str, list[float]] = {}
    for alert in w.alerts:
        if alert.condition == "above":
            above.setdefault(alert.symbol, []).append(alert.threshold)  # type: ignore[arg-type]
        elif alert.condition == "below":
            below.setdefault(alert.symbol, []).append(alert.threshold)  # type: ignore[arg-type]
    empty = np.empty(0)
    above_arr = {k: np.sort(np.array(v)) for k, v in above.items()}
    below_arr = {k: np.sort(np.array(v)) for k, v in below.items()}
    codes = np.array([int(x[1:5]) for x in w.symbols])
    batches = []  # per batch: its slice and its per-symbol groups (symbol, prices, timestamps)
    for s in range(0, n, batch):
        c = codes[s : s + batch]
        order = np.argsort(c, kind="stable") + s
        cut = np.flatnonzero(np.diff(codes[order])) + 1
        groups = [(w.names[codes[part[0]]], w.prices[part], w.timestamps[part]) for part in np.split(order, cut)]
        batches.append((s, groups))

    def floor(groups: list[tuple[str, Any, Any]]) -> float:
        t0 = time.perf_counter()
        for sym, p, _t in groups:
            np.searchsorted(above_arr.get(sym, empty), p)
            np.searchsorted(below_arr.get(sym, empty), p)
        return time.perf_counter() - t0

    index = AlertIndex.from_alerts(w.alerts)
    gc.collect()  # as before every timed loop here: the generation's and the build's garbage is not the batch's
    fires = 0
    mixed_s = floor_s = 0.0
    for s, groups in batches:
        t0 = time.perf_counter()
        fires += len(index.match_batch(w.symbols[s : s + batch], w.prices[s : s + batch], w.timestamps[s : s + batch]))
        mixed_s += time.perf_counter() - t0
        floor_s += floor(groups)
    # Per-symbol batches: each symbol's ticks of a mixed batch handed over together.
    del index
    index2 = AlertIndex.from_alerts(w.alerts)
    gc.collect()
    fires2 = 0
    per_symbol_s = floor2_s = 0.0
    for _s, groups in batches:
        t0 = time.perf_counter()
        for sym, p, t in groups:
            fires2 += len(index2.match_batch(sym, p, t))
        per_symbol_s += time.perf_counter() - t0
        floor2_s += floor(groups)
    # Whole series per symbol in one call (e.g. replaying history): long runs for numpy.
    del index2
    order = np.argsort(codes, kind="stable")
    cut = np.flatnonzero(np.diff(codes[order])) + 1
    series = [(w.names[codes[part[0]]], w.prices[part], w.timestamps[part]) for part in np.split(order, cut)]
    index3 = AlertIndex.from_alerts(w.alerts)
    gc.collect()
    t0 = time.perf_counter()
    fires3 = sum(len(index3.match_batch(sym, p, t)) for sym, p, t in series)
    series_s = time.perf_counter() - t0
    series_floor_s = floor(series)
    return {
        "series_ticks_per_s": n / series_s,
        "series_floor_ticks_per_s": n / series_floor_s,
        "fires_series": float(fires3),
        "mixed_ticks_per_s": n / mixed_s,
        "per_symbol_ticks_per_s": n / per_symbol_s,
        "searchsorted_floor_ticks_per_s": n / floor_s,
        "mixed_of_floor": floor_s / mixed_s,
        "per_symbol_of_floor": floor2_s / per_symbol_s,
        "fires_mixed": float(fires),
        "fires_per_symbol": float(fires2),
    }


def _phase(args: argparse.Namespace) -> dict[str, float]:
    """Run one measurement on a freshly generated W1 (in this interpreter)."""
    n_alerts = max(1000, int(1_000_000 * args.scale))
    n_ticks = max(1000, int(1_000_000 * args.scale))
    t0 = time.perf_counter()
    w = make_w1(n_alerts, n_ticks, rearm=args.rearm)
    out = {"alerts": float(n_alerts), "ticks": float(n_ticks), "symbols": float(len(w.names)),
           "generate_s": time.perf_counter() - t0}  # fmt: skip
    if args.phase == "build":
        out.update(measure_build(w))
    elif args.phase == "match":
        out.update(measure_match(w, n_ticks, min(2000, n_ticks)))
    else:
        out.update(measure_batch(w, args.batch))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of W1's alerts and ticks")
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--rearm", type=float, default=0.0, help="share of rearm alerts (default: all once)")
    parser.add_argument("--phase", choices=("build", "match", "batch"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase:
        print(json.dumps(_phase(args)))
        return 0
    # Each phase in a fresh interpreter: the memory an earlier phase freed (indexes, a
    # million Tick objects) made the later ones up to 30% slower in one process.
    results: dict[str, dict[str, float]] = {}
    for phase in ("build", "match", "batch"):
        cmd = [sys.executable, __file__, "--phase", phase, "--scale", str(args.scale), "--batch", str(args.batch),
               "--rearm", str(args.rearm)]  # fmt: skip
        done = subprocess.run(cmd, check=True, capture_output=True, text=True)
        results[phase] = json.loads(done.stdout.strip().splitlines()[-1])
    build, m, b = results["build"], results["match"], results["batch"]
    print(f"cryptoalerts {'compiled by mypyc' if cryptoalerts.COMPILED else 'pure Python'} "
          f"({cryptoalerts.index.__file__}), Python {sys.version.split()[0]}")
    print(f"W1: {build['alerts']:,.0f} alerts ({args.rearm:.0%} rearm), {build['ticks']:,.0f} ticks, "
          f"{build['symbols']:,.0f} symbols (generated in {build['generate_s']:.1f} s; each measurement "
          "below runs in a fresh interpreter)")  # fmt: skip
    print(f"bulk build:    {build['build_s']:.3f} s   (baseline dict by id: {build['dict_baseline_s']:.3f} s)")
    print(f"memory:        {build['index_bytes_per_alert']:.0f} B/alert held by the index "
          f"(+ the caller's Alert object, {build['alert_object_bytes']:.0f} B with id and threshold)")  # fmt: skip
    print(f"match:         {m['untimed_ticks_per_s']:,.0f} ticks/s in a plain loop; {m['ticks_per_s']:,.0f} ticks/s "
          f"with a timer around each call: median {m['median_ns']:.0f} ns, "
          f"p99 {m['p99_ns']:,.0f} ns, {m['fires']:,.0f} fires  (timer overhead {m['timer_overhead_ns']:.0f} ns "
          "subtracted)")  # fmt: skip
    print(f"  baseline scan of the symbol's alerts: median {m['scan_median_ns']:,.0f} ns, "
          f"p99 {m['scan_p99_ns']:,.0f} ns  -> {m['scan_median_ns'] / max(m['median_ns'], 1):,.0f}x")  # fmt: skip
    floor = b["searchsorted_floor_ticks_per_s"]
    mixed, per_symbol = b["mixed_ticks_per_s"], b["per_symbol_ticks_per_s"]
    print(f"match_batch:   mixed batches of {args.batch:,}: {mixed:,.0f} ticks/s ({b['mixed_of_floor']:.2f} of floor); "
          f"per-symbol batches: {per_symbol:,.0f} ticks/s ({b['per_symbol_of_floor']:.2f} of floor)")  # fmt: skip
    print(f"  floor, raw np.searchsorted on the same per-symbol batches, run after each batch: {floor:,.0f} ticks/s")
    sf = b["series_floor_ticks_per_s"]
    print(f"match_batch:   each symbol's whole series in one call: {b['series_ticks_per_s']:,.0f} ticks/s "
          f"({b['series_ticks_per_s'] / sf:.2f} of its floor, {sf:,.0f} ticks/s)")  # fmt: skip
    print(f"  fires: {b['fires_mixed']:,.0f} (mixed) == {b['fires_per_symbol']:,.0f} (per symbol) == "
          f"{m['fires']:,.0f} (match)")  # fmt: skip
    same = b["fires_mixed"] == b["fires_per_symbol"] == b["fires_series"] == m["fires"]
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
