"""`cryptoalerts package`: a real pip download from PyPI for x86_64 and the running Python,
unzipped and imported in a fresh interpreter that sees nothing but the zip's contents."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cryptoalerts.cli import main
from cryptoalerts.deploy.checks import check_template
from cryptoalerts.deploy.handlers import handler_problems
from cryptoalerts.deploy.package import LAMBDA_UNZIPPED_LIMIT, LAMBDA_ZIPPED_LIMIT

pytestmark = pytest.mark.slow
PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
HANDLERS = ("price_webhook", "alert_matcher", "processed_alerts")


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Built once per session: (zip, unzipped folder)."""
    out = tmp_path_factory.mktemp("package")
    assert main(["package", "--arch", "x86_64", "--python", PYTHON, "--out", str(out)]) == 0
    archive = out / f"cryptoalerts-lambda-x86_64-py{PYTHON}.zip"
    unzipped = tmp_path_factory.mktemp("unzipped")
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(unzipped)
    return archive, unzipped


@pytest.mark.parametrize("handler", HANDLERS)
def test_each_handler_imports_from_the_zip_alone(package: tuple[Path, Path], handler: str) -> None:
    _, root = package
    code = (
        f"import sys; sys.path.insert(0, {str(root)!r}); "
        f"import {handler}, cryptoalerts, numpy, aiobotocore.session, aws_lambda_powertools; "
        f"assert callable({handler}.handler); "
        "print(cryptoalerts.__file__); print(numpy.__file__); print(aiobotocore.session.__file__)"
    )
    # -I: no environment variables, no user site; -S: no site-packages at all.
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True,
                            check=False, env={"AWS_DEFAULT_REGION": "us-east-1"})
    assert result.returncode == 0, result.stderr
    assert all(line.startswith(str(root)) for line in result.stdout.splitlines()), result.stdout


def test_zip_layout_and_size(package: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    archive, _ = package
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        unzipped = sum(info.file_size for info in zf.infolist())
    assert names == sorted(names)
    for handler in HANDLERS:
        assert f"{handler}.py" in names  # at the root, where Lambda's Handler looks
    assert "cryptoalerts/__init__.py" in names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert not any("/tests/" in n or n.startswith("tests/") for n in names)
    assert not any(n.endswith(".dist-info/RECORD") for n in names)
    assert not any(n.startswith(("cfnlint/", "rich/", "cryptoalerts/_handlers/")) for n in names)
    assert any(n.startswith("numpy/") and n.endswith(".so") and "x86_64-linux-gnu" in n for n in names)
    assert archive.stat().st_size < LAMBDA_ZIPPED_LIMIT
    assert unzipped < LAMBDA_UNZIPPED_LIMIT


def test_package_writes_a_template_pointing_at_the_zip(package: tuple[Path, Path]) -> None:
    archive, _ = package
    template = json.loads((archive.parent / "template.json").read_text())
    functions = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    assert {f["Properties"]["Code"] for f in functions} == {archive.name}
    assert {f["Properties"]["Architectures"][0] for f in functions} == {"x86_64"}
    assert check_template(template) == []
    assert handler_problems(template) == []
