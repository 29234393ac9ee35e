"""Every benchmark file runs once at tiny sizes, so the benchmarks cannot rot.

pytest-benchmark's ``--benchmark-disable`` runs each benchmarked function once,
untimed; the sizes come from the benchmarks' own environment variables.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_benchmarks_run_at_tiny_sizes() -> None:
    env = {
        **os.environ,
        "CRYPTOALERTS_BENCH_SCALE": "0.002",
        "CRYPTOALERTS_BENCH_DYNAMO_N": "200",
    }
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks", "-q", "-p", "no:cacheprovider", "--benchmark-disable"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in out.stdout
    assert "skipped" not in out.stdout or not os.environ.get("CI"), out.stdout[-2000:]


def test_w1_report_runs_and_all_paths_agree() -> None:
    """``benchmarks/w1.py`` exits 0 only if match, mixed and per-symbol batches fire the same."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "w1.py"), "--scale", "0.002", "--batch", "500"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    assert "match_batch" in out.stdout


def test_ab_compares_two_versions_interleaved() -> None:
    """``benchmarks/ab.py`` loads a git revision and the working tree side by side."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ab.py"), "HEAD", ".", "--scale", "0.003", "--rounds", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    for mode in ("build", "match", "batch"):
        assert f"{mode}: " in out.stdout, out.stdout


@pytest.mark.parametrize("mode", ["match", "batch"])
def test_ab_reports_different_fires(mode: str) -> None:
    """The A/B check is not blind: a side missing alerts that fire is caught."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import ab
        import cryptoalerts
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    w = ab.make_w1(3000, 3000, n_symbols=20)
    rows = [alert.to_dict() for alert in w.alerts]
    a = ab.Side("A", cryptoalerts, w, rows)
    a.fresh_index()
    fired = {f.alert_id for t in a.ticks for f in a.index.match(t)}
    assert fired, "the workload must fire something for this test to mean anything"
    twin = ab.Side("twin", cryptoalerts, w, rows)
    ratios, same = ab.run_stream(a, twin, w, mode, 2, 1000)
    assert same
    assert len(ratios) == 2
    assert a.fires == twin.fires == len(fired)
    short = ab.Side("short", cryptoalerts, w, [row for row in rows if row["id"] not in fired])
    _ratios, same = ab.run_stream(a, short, w, mode, 2, 1000)
    assert not same


def test_ab_demo_workload_is_the_demos_sample() -> None:
    """``ab.py --workload demo`` replays what ``cryptoalerts demo`` replays."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import ab
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    from cryptoalerts.data import load_market, sample_alerts, sample_ticks

    w = ab.sample_workload()
    ticks = sample_ticks(load_market())
    assert w.alerts == sample_alerts()
    assert w.symbols == ticks.symbols.tolist()
    assert (w.prices == ticks.prices).all()
    assert (w.timestamps == ticks.timestamps).all()
    assert len(w.names) == 20
