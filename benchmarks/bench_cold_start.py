"""Cold-start import time of each Lambda handler file, in a fresh interpreter.

Import time is cold-start time. Each round starts ``python -I`` and loads one
handler file by path, as Lambda does; ``baseline`` is the bare interpreter and
``library`` is ``import cryptoalerts``, so the handler's own cost is the difference.
Run: ``make bench PYTEST_ARGS=benchmarks/bench_cold_start.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HANDLERS = Path(__file__).parents[1] / "adapters" / "lambda"
LOAD = (
    "import importlib.util, sys; s = importlib.util.spec_from_file_location('h', sys.argv[1]); "
    "m = importlib.util.module_from_spec(s); s.loader.exec_module(m)"
)
CASES = {
    "baseline": ["-c", "pass"],
    "library": ["-c", "import cryptoalerts"],
    "price_webhook": ["-c", LOAD, str(HANDLERS / "price_webhook.py")],
    "alert_matcher": ["-c", LOAD, str(HANDLERS / "alert_matcher.py")],
    "processed_alerts": ["-c", LOAD, str(HANDLERS / "processed_alerts.py")],
}


@pytest.mark.parametrize("case", list(CASES))
def test_cold_import(benchmark: pytest.FixtureRequest, case: str) -> None:
    args = [sys.executable, "-I", *CASES[case]]
    benchmark.pedantic(subprocess.run, args=(args,), kwargs={"check": True}, rounds=10, warmup_rounds=1)  # type: ignore[attr-defined]
