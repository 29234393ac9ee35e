"""The mypyc-compiled build (``CRYPTOALERTS_COMPILE=1``) passes the index's own tests.

The wheel is built from this tree with the build hook, installed with ``--target``
into a folder of its own, and the index, family and stateful tests run in a
subprocess that imports the library from there; ``CRYPTOALERTS_EXPECT_COMPILED``
makes that run fail unless the native modules were really loaded. The rest of the
suite runs the pure-Python build (the editable install), so both builds are tested.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def compiled_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheels = tmp_path_factory.mktemp("wheels")
    env = {**os.environ, "CRYPTOALERTS_COMPILE": "1"}
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(ROOT)],
        check=True, capture_output=True, text=True, env=env,
    )  # fmt: skip
    (wheel,) = wheels.glob("cryptoalerts-*.whl")
    assert "none-any" not in wheel.name, wheel.name  # a platform wheel
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    for module in ("index", "_book", "_bulk"):
        assert any(n.startswith(f"cryptoalerts/{module}.") and n.endswith(".so") for n in names), names
        assert f"cryptoalerts/{module}.py" in names  # the sources stay beside the native modules
    site = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return site


def test_compiled_build_passes_the_index_tests(compiled_site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(compiled_site), "CRYPTOALERTS_EXPECT_COMPILED": "1"}
    # Not the doctests: doctest finds no examples on compiled functions (the same
    # docstrings run in the pure-Python suite).
    tests = ["tests/test_index.py", "tests/test_family.py", "tests/test_index_stateful.py", "tests/test_engine.py"]
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in out.stdout
    assert " failed" not in out.stdout


def test_pure_python_build_is_not_compiled() -> None:
    import cryptoalerts

    assert cryptoalerts.COMPILED is (os.environ.get("CRYPTOALERTS_EXPECT_COMPILED") == "1")


def test_lambda_zip_from_a_compiled_install_is_pure_python(compiled_site: Path, tmp_path: Path) -> None:
    """The packager copies the library from its installation, but not its native modules."""
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    code = (
        "import sys, cryptoalerts; assert cryptoalerts.COMPILED;"
        "from cryptoalerts.deploy.package import build_package;"
        f"r = build_package({str(tmp_path)!r}, architecture='arm64', python={python!r}, requirements=['numpy']);"
        "print(r.zip_path)"
    )
    env = {**os.environ, "PYTHONPATH": str(compiled_site)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    with zipfile.ZipFile(out.stdout.strip().splitlines()[-1]) as zf:
        names = zf.namelist()
    assert "cryptoalerts/index.py" in names
    assert not [n for n in names if n.startswith("cryptoalerts") and n.endswith(".so")]
