"""Hatchling build hook: compile the matching core with mypyc when asked to.

``CRYPTOALERTS_COMPILE=1 pip install .`` (or ``pip wheel``) builds a platform wheel
in which ``cryptoalerts._book``, ``cryptoalerts.index`` and ``cryptoalerts._bulk``
are native extension modules, compiled from the very same, mypy-strict Python
sources by mypyc (part of mypy). The ``.py`` files stay in the wheel beside them.
Without the variable, and for editable installs, the wheel is pure Python, so an
edit to the sources always takes effect and ``cryptoalerts package`` ships code
that runs on either Lambda architecture.

Why mypyc and not hand-written C: the sources stay the single implementation
(the pure-Python build is the reference the tests also run), and mypyc turns the
interpreter's per-tick overhead (attribute look-ups, boxed float comparisons,
method calls) into C without a second code base to keep in step.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

COMPILED_MODULES = ("_book.py", "index.py", "_bulk.py")
ENV = "CRYPTOALERTS_COMPILE"

_SETUP = """
from setuptools import setup
from mypyc.build import mypycify

setup(
    name="cryptoalerts-native",
    ext_modules=mypycify({modules!r}, opt_level="3", group_name="cryptoalerts_native"),
    script_args=["build_ext", "--inplace", "-q"],
)
"""


def _wanted() -> bool:
    return os.environ.get(ENV, "").strip().lower() in {"1", "true", "yes"}


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        # Only an opt-in compiled build needs the compiler (isolated builds install these).
        return ["mypy>=1.11", "setuptools>=65"] if _wanted() else []

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version != "standard" or not _wanted():
            return
        self._work = Path(tempfile.mkdtemp(prefix="cryptoalerts-mypyc-"))
        package = Path(self.root) / "src" / "cryptoalerts"
        # mypyc needs the whole package for type information, and writes next to it.
        shutil.copytree(package, self._work / "cryptoalerts", ignore=shutil.ignore_patterns("*.so", "__pycache__"))
        modules = [f"cryptoalerts/{name}" for name in COMPILED_MODULES]
        (self._work / "setup.py").write_text(_SETUP.format(modules=modules))
        done = subprocess.run([sys.executable, "setup.py"], cwd=self._work, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"mypyc failed ({ENV}=1):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}")
        built = sorted(self._work.glob("*.so")) + sorted((self._work / "cryptoalerts").glob("*.so"))
        if len(built) < len(COMPILED_MODULES):
            raise RuntimeError(f"mypyc built {[p.name for p in built]}, expected {len(COMPILED_MODULES)} modules")
        for path in built:
            build_data["force_include"][str(path)] = path.relative_to(self._work).as_posix()
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
