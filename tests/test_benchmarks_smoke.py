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
