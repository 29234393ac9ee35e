"""Cold-start import time of each Lambda handler file, in a fresh interpreter.

Import time is cold-start time. Each round starts ``python -I`` and loads one
handler file by path, as Lambda does; ``baseline`` is the bare interpreter and
``library`` is ``import cryptoalerts``, so the handler's own cost is the difference;
``dynamodb_store`` is the store module (botocore's exceptions, the store package,
sqlite3), which no handler imports at module level any more: the DynamoDB IAM
actions the ``DEPLOY`` declarations name come from the botocore-free layout module.
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
    "dynamodb_store": ["-c", "import cryptoalerts.aws.dynamodb"],
    "price_webhook": ["-c", LOAD, str(HANDLERS / "price_webhook.py")],
    "alert_matcher": ["-c", LOAD, str(HANDLERS / "alert_matcher.py")],
    "processed_alerts": ["-c", LOAD, str(HANDLERS / "processed_alerts.py")],
}


@pytest.mark.parametrize("case", list(CASES))
def test_cold_import(benchmark: pytest.FixtureRequest, case: str) -> None:
    args = [sys.executable, "-I", *CASES[case]]
    benchmark.pedantic(subprocess.run, args=(args,), kwargs={"check": True}, rounds=20, warmup_rounds=2)  # type: ignore[attr-defined]
