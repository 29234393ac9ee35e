"""The README's quickstart main command, run as written, from a clean checkout layout.

The files a clone would have (git-tracked plus not-yet-committed, not-ignored ones)
are copied to a temporary directory and the ``make demo`` line of the README's
quickstart block runs there in a subprocess. To keep the test fast it reuses the
virtualenv running the tests (``VENV=`` on the make command line) and tells make
that its install stamp is up to date (``-o``), so the set-up step is not repeated;
``PYTHONPATH`` points at the copy's ``src`` so the copied code, including the
sample data files, is what runs. The rest of the chain (Makefile target, console
script, bundled data, SQLite store, output) is exactly what a user runs.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cryptoalerts import Fired

ROOT = Path(__file__).resolve().parent.parent


def quickstart_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quickstart", 1)[1]
    block = re.search(r"```(?:sh|bash|console)?\n(.*?)```", section, re.S)
    assert block, "the README's Quickstart section has no code block"
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_quickstart_lists_demo_then_test() -> None:
    assert quickstart_commands()[:2] == ["make demo", "make test"]


def clean_checkout(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)


@pytest.mark.slow
def test_make_demo_from_a_clean_checkout(tmp_path: Path) -> None:
    if shutil.which("make") is None or shutil.which("git") is None:
        pytest.fail("make and git are needed to run the quickstart")
    repo = tmp_path / "repo"
    clean_checkout(repo)
    venv = Path(sys.prefix)
    command = shlex.split(quickstart_commands()[0])
    env = {**os.environ, "PYTHONPATH": str(repo / "src")}
    done = subprocess.run(
        [*command, f"VENV={venv}", "-o", str(venv / ".installed")],
        cwd=repo, env=env, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Ticks and timing" in done.stdout
    assert "Fires by condition" in done.stdout
    assert "throughput" in done.stdout
    match = re.search(r"wrote (\d+) fires to demo-fires\.jsonl", done.stdout)
    assert match, done.stdout[-2000:]
    lines = (repo / "demo-fires.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == int(match.group(1)) > 0
    fires = [Fired.from_dict(json.loads(line)) for line in lines]
    keys = [f.key for f in fires]
    assert len(keys) == len(set(keys))  # every (alert_id, seq) once
    assert {f.condition.value for f in fires} >= {"above", "below", "crosses", "enters_channel", "moves_up_pct"}
