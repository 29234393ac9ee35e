"""``template`` and ``check`` work from an installed wheel, not only from a checkout.

The wheel is built from this tree, installed with ``--no-deps --target`` into a
folder that comes first on ``sys.path`` (the dependencies come from the test
environment), and the CLI runs from a directory outside the checkout: the handler
declarations must come from the wheel's ``cryptoalerts/_handlers``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_template_and_check_from_an_installed_wheel(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = wheels.glob("cryptoalerts-*.whl")
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert (site / "cryptoalerts" / "_handlers" / "alert_matcher.py").is_file()
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = (
        "import sys, cryptoalerts;"
        f"assert cryptoalerts.__file__.startswith({str(site)!r}), cryptoalerts.__file__;"
        "from cryptoalerts.cli import main;"
        "rc = main(['template', '--out', 'stack.json']) or main(['check', 'stack.json']);"
        "sys.exit(rc)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    stack = json.loads((work / "stack.json").read_text())
    handlers = sorted(
        r["Properties"]["Handler"] for r in stack["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
    )
    assert handlers == ["alert_matcher.handler", "price_webhook.handler", "processed_alerts.handler"]
