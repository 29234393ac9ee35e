"""pytest-benchmark wrappers for the index on workload W1 (see ``w1.py``).

Each fast path has its baseline beside it in the same run (pytest-benchmark's
table shows the ratio). Sizes come from ``CRYPTOALERTS_BENCH_SCALE`` (default 0.1
of W1 here; ``python benchmarks/w1.py`` runs the full size with per-tick
percentiles). The test suite runs this file once with a tiny scale so it cannot rot.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from cryptoalerts import AlertIndex, ReferenceIndex, Tick
from w1 import Workload, make_w1

SCALE = float(os.environ.get("CRYPTOALERTS_BENCH_SCALE", "0.1"))


@pytest.fixture(scope="module")
def w1() -> Workload:
    return make_w1(max(1000, int(1_000_000 * SCALE)), max(1000, int(1_000_000 * SCALE)))


def test_build_index(benchmark: Any, w1: Workload) -> None:
    index = benchmark(AlertIndex.from_alerts, w1.alerts)
    assert len(index) == len(w1.alerts)


def test_build_baseline_dict_by_id(benchmark: Any, w1: Workload) -> None:
    by_id = benchmark(lambda alerts: {a.id: a for a in alerts}, w1.alerts)
    assert len(by_id) == len(w1.alerts)


def _ticks(w1: Workload, n: int) -> list[Tick]:
    return [Tick(s, p, t) for s, p, t in zip(w1.symbols[:n], w1.prices[:n].tolist(), w1.timestamps[:n].tolist(),
                                                strict=True)]  # fmt: skip


def test_match_per_tick(benchmark: Any, w1: Workload) -> None:
    ticks = _ticks(w1, 20_000)

    def run() -> int:
        index = AlertIndex.from_alerts(w1.alerts)
        match = index.match
        return sum(len(match(t)) for t in ticks)

    benchmark.extra_info["ticks"] = len(ticks)
    assert benchmark.pedantic(run, rounds=3, iterations=1) >= 0


def test_match_baseline_brute_force_scan(benchmark: Any, w1: Workload) -> None:
    """The reference index scans the symbol's alerts on every tick; a short prefix only."""
    ticks = _ticks(w1, 200)

    def run() -> int:
        index = ReferenceIndex()
        index._alerts = {a.id: a for a in w1.alerts}  # bulk-load without per-alert checks
        from cryptoalerts.state import AlertState

        index._states = {a.id: AlertState() for a in w1.alerts}
        return sum(len(index.match(t)) for t in ticks)

    benchmark.extra_info["ticks"] = len(ticks)
    assert benchmark.pedantic(run, rounds=1, iterations=1) >= 0


def test_match_batch_per_symbol(benchmark: Any, w1: Workload) -> None:
    codes = np.array([int(s[1:5]) for s in w1.symbols])
    order = np.argsort(codes, kind="stable")
    cuts = np.flatnonzero(np.diff(codes[order])) + 1
    groups = [(w1.names[codes[part[0]]], w1.prices[part], w1.timestamps[part]) for part in np.split(order, cuts)]

    def run() -> int:
        index = AlertIndex.from_alerts(w1.alerts)
        return sum(len(index.match_batch(sym, p, t)) for sym, p, t in groups)

    benchmark.extra_info["ticks"] = len(w1.prices)
    assert benchmark.pedantic(run, rounds=3, iterations=1) >= 0


def test_match_batch_floor_searchsorted(benchmark: Any, w1: Workload) -> None:
    """The floor: numpy.searchsorted of the same per-symbol batches into sorted thresholds."""
    codes = np.array([int(s[1:5]) for s in w1.symbols])
    order = np.argsort(codes, kind="stable")
    cuts = np.flatnonzero(np.diff(codes[order])) + 1
    groups = [(w1.names[codes[part[0]]], w1.prices[part]) for part in np.split(order, cuts)]
    sorted_thresholds: dict[str, np.ndarray[Any, Any]] = {}
    for alert in w1.alerts:
        if alert.threshold is not None:
            sorted_thresholds.setdefault(alert.symbol, []).append(alert.threshold)  # type: ignore[arg-type]
    sorted_thresholds = {k: np.sort(np.array(v)) for k, v in sorted_thresholds.items()}
    empty = np.empty(0)

    def run() -> int:
        return sum(int(np.searchsorted(sorted_thresholds.get(sym, empty), p).sum() >= 0) for sym, p in groups)

    assert benchmark.pedantic(run, rounds=3, iterations=1) == len(groups)
