"""``benchmarks/compare.py``: the smoke run agrees across approaches; the check can fail."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "compare.py"

def load_compare() -> ModuleType:
    spec = importlib.util.spec_from_file_location("compare_bench", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module

@pytest.mark.slow
def test_smoke_run_agrees_across_all_approaches() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"], cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "fired the same alerts" in done.stdout
    for name in ("cryptoalerts match", "match_batch", "python loop", "numpy scan", "sqlite"):
        assert name in done.stdout
    if os.environ.get("CI") == "true":  # in CI both services are installed: they must run
        assert "skipped" not in done.stdout, done.stdout
        assert "redis lua" in done.stdout
        assert "dynamodb" in done.stdout

def test_check_flags_a_differing_approach() -> None:
    compare = load_compare()
    w = compare.make_workload(300, 300)
    good = compare.run_numpy_scan(w, 300)
    reference = compare.run_cryptoalerts_match(w, 300)
    assert reference.pairs  # the workload fires
    assert compare.check([reference, good])
    wrong = compare.run_python_loop(w, 300)
    wrong.pairs = [*wrong.pairs[:-1], (wrong.pairs[-1][0], "not-an-alert")]
    assert not compare.check([reference, good, wrong])
    assert wrong.ok is False
    assert good.ok is True

def test_plot_writes_a_png(tmp_path: Path) -> None:
    compare = load_compare()
    sizes = [100, 1000]
    series = {"cryptoalerts match": [1000.0, 1500.0], "numpy scan": [2000.0, 9000.0]}
    out = tmp_path / "plot.png"
    compare.plot(sizes, series, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
