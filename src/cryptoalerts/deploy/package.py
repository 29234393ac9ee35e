"""Build the Lambda deployment zip: handler files at the root, the library and its
``aws`` dependencies for the target platform beside them.

Dependencies come from pip with ``--platform``/``--only-binary=:all:`` so the zip
is built for Lambda's Linux (arm64 or x86_64) and Python whatever machine runs it.
The platform tags follow the runtime's glibc: python3.11 runs on Amazon Linux 2
(glibc 2.26), python3.12 and later on Amazon Linux 2023 (glibc 2.34); pip does not
widen ``manylinux_2_X`` tags by itself, so every compatible tag is passed.

The zip is reproducible (sorted entries, fixed timestamps) and carries no tests,
``__pycache__``, ``bin/`` scripts or installer bookkeeping in ``.dist-info`` (RECORD,
INSTALLER, ...); METADATA stays because ``importlib.metadata.version`` reads it.
The library goes in as pure Python even from a compiled (``CRYPTOALERTS_COMPILE=1``)
installation: its native modules are for the machine that built them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from cryptoalerts.deploy.handlers import handler_files, handlers_dir
from cryptoalerts.errors import CryptoAlertsError

__all__ = ["LAMBDA_UNZIPPED_LIMIT", "LAMBDA_ZIPPED_LIMIT", "PackageError", "PackageResult", "build_package",
           "runtime_requirements"]

LAMBDA_ZIPPED_LIMIT = 50 * 1024 * 1024  # direct upload
LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024  # code and layers, unzipped

_LIBRARY = Path(__file__).resolve().parents[1]  # .../cryptoalerts
_PIP_ARCH = {"arm64": "aarch64", "x86_64": "x86_64"}
_DROP_DIRS = frozenset({"__pycache__", "tests", "testing", "bin"})
_DROP_DIST_INFO = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})
_DROP_LIBRARY = frozenset({"_handlers"})
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class PackageError(CryptoAlertsError):
    """pip could not resolve the dependencies for the target, or the result is too big."""


@dataclass(frozen=True, slots=True)
class PackageResult:
    """What was built, and its size against Lambda's limits (bytes)."""

    zip_path: Path
    zipped_bytes: int
    unzipped_bytes: int
    files: int

    def report(self) -> str:
        def mb(n: int) -> str:
            return f"{n / 1024 / 1024:.1f} MB"

        return (f"{self.zip_path}: {self.files} files, {mb(self.zipped_bytes)} zipped (limit "
                f"{mb(LAMBDA_ZIPPED_LIMIT)} direct upload), {mb(self.unzipped_bytes)} unzipped (limit "
                f"{mb(LAMBDA_UNZIPPED_LIMIT)})")


def runtime_requirements(extra: str = "aws") -> list[str]:
    """The library's own requirements plus those of ``extra``, from its installed metadata."""
    try:
        requires = metadata.requires("cryptoalerts") or []
    except metadata.PackageNotFoundError as exc:  # pragma: no cover - the library is always installed
        raise PackageError("cryptoalerts is not installed; pip install it first") from exc
    result = []
    for requirement in requires:
        spec, _, marker = requirement.partition(";")
        marker = marker.replace(" ", "").replace("'", '"')
        if not marker or marker == f'extra=="{extra}"':
            result.append(spec.strip())
    return result


def _platforms(architecture: str, python: str) -> list[str]:
    arch = _PIP_ARCH[architecture]
    glibc = 26 if python == "3.11" else 34
    return [f"manylinux_2_{minor}_{arch}" for minor in range(glibc, 16, -1)] + [f"manylinux2014_{arch}"]


def _pip_install(target: Path, requirements: Sequence[str], architecture: str, python: str) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
               "--target", str(target), "--implementation", "cp", "--python-version", python,
               "--only-binary=:all:", "--upgrade"]
    for platform in _platforms(architecture, python):
        command += ["--platform", platform]
    result = subprocess.run([*command, *requirements], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise PackageError(f"pip could not install {' '.join(requirements)} for python{python} "
                           f"{architecture}: {' | '.join(tail)}")


def _keep(relative: Path) -> bool:
    parts = relative.parts
    if any(part in _DROP_DIRS for part in parts[:-1]) or relative.suffix in (".pyc", ".pyo"):
        return False
    return not (len(parts) >= 2 and parts[-2].endswith(".dist-info") and parts[-1] in _DROP_DIST_INFO)


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for filename in sorted(filenames):
            yield Path(dirpath) / filename


def build_package(
    out_dir: str | Path,
    *,
    architecture: str = "arm64",
    python: str = "3.12",
    handlers: str | Path | None = None,
    requirements: Sequence[str] | None = None,
) -> PackageResult:
    """Write ``cryptoalerts-lambda-<arch>-py<ver>.zip`` into ``out_dir`` and return its sizes.

    Raises PackageError if pip fails or the result exceeds Lambda's unzipped limit.
    """
    if architecture not in _PIP_ARCH:
        raise PackageError(f"architecture {architecture!r}: must be arm64 or x86_64")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    zip_path = out / f"cryptoalerts-lambda-{architecture}-py{python}.zip"
    with tempfile.TemporaryDirectory(prefix="cryptoalerts-package-") as tmp:
        deps = Path(tmp) / "deps"
        # The library itself is copied from this installation, so its own code is
        # exactly what runs here; pip resolves only the third-party dependencies.
        _pip_install(deps, requirements if requirements is not None else runtime_requirements(),
                     architecture, python)
        entries: dict[str, Path] = {}
        for path in _walk(deps):
            relative = path.relative_to(deps)
            if relative.parts[0] != "cryptoalerts" and _keep(relative):
                entries[relative.as_posix()] = path
        for path in _walk(_LIBRARY):
            relative = path.relative_to(_LIBRARY.parent)
            # A mypyc-compiled installation's extension modules are built for this
            # machine, not for the target; the zip carries the pure-Python sources.
            if relative.parts[1] not in _DROP_LIBRARY and relative.suffix != ".so" and _keep(relative):
                entries[relative.as_posix()] = path
        for path in handler_files(handlers_dir(handlers)):
            entries[path.name] = path
        unzipped = 0
        tmp_zip = zip_path.with_suffix(".zip.tmp")
        with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for name in sorted(entries):
                info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
                info.compress_type = zipfile.ZIP_DEFLATED
                mode = 0o755 if os.access(entries[name], os.X_OK) and name.endswith(".so") else 0o644
                info.external_attr = (0o100000 | mode) << 16
                data = entries[name].read_bytes()
                unzipped += len(data)
                archive.writestr(info, data)
        tmp_zip.replace(zip_path)
    result = PackageResult(zip_path, zip_path.stat().st_size, unzipped, len(entries))
    if unzipped > LAMBDA_UNZIPPED_LIMIT:
        raise PackageError(f"{result.report()}: over Lambda's unzipped limit")
    return result

