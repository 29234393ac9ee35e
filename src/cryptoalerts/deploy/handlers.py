"""Find the Lambda handler files and read their ``DEPLOY`` declarations.

The handler files are the Lambda code root: ``adapters/lambda/`` in a checkout, and
``cryptoalerts/_handlers/`` inside an installed wheel (pyproject force-includes the
folder there), so ``template`` and ``package`` work from a plain ``pip install``.
``lambda`` is a keyword, so the folder is never an importable package: files are
loaded by path, under private module names that cannot clash with real modules.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from cryptoalerts.deploy.spec import FunctionSpec
from cryptoalerts.errors import CryptoAlertsError

__all__ = ["HandlerError", "defined_functions", "handler_problems", "handlers_dir", "load_specs"]

_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # .../cryptoalerts


class HandlerError(CryptoAlertsError):
    """The handler files are missing, cannot be imported, or declare something inconsistent."""


def handlers_dir(explicit: str | Path | None = None) -> Path:
    """The folder holding the handler files: ``explicit``, the checkout's, or the installed copy."""
    if explicit is not None:
        candidates = [Path(explicit)]
    else:
        candidates = [_PACKAGE_ROOT.parents[1] / "adapters" / "lambda", _PACKAGE_ROOT / "_handlers"]
    for candidate in candidates:
        if candidate.is_dir() and any(candidate.glob("*.py")):
            return candidate
    raise HandlerError(f"no handler files found (looked in {', '.join(str(c) for c in candidates)})")


def handler_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.py") if not p.name.startswith("_"))


def defined_functions(path: Path) -> set[str]:
    """Top-level names a file binds to a function, read without importing it."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _import(path: Path) -> ModuleType:
    name = f"_cryptoalerts_handler_{path.stem}"
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__file__", None) == str(path):
        return loaded  # handler modules build warm state at import: do it once per process
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise HandlerError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing look the module up while it executes
    try:
        spec.loader.exec_module(module)
    except ImportError as exc:
        del sys.modules[name]
        raise HandlerError(
            f"cannot import {path} to read its DEPLOY ({exc}); install the library with its 'aws' extra"
        ) from exc
    return module


def load_specs(directory: str | Path | None = None) -> list[FunctionSpec]:
    """Every handler file's ``DEPLOY``, sorted by function name.

    Raises HandlerError if a file has ``handler`` but no ``DEPLOY`` (or the reverse),
    or if ``DEPLOY.handler`` does not name that file and a function in it.
    """
    folder = handlers_dir(directory)
    specs: list[FunctionSpec] = []
    for path in handler_files(folder):
        module = _import(path)
        deploy = getattr(module, "DEPLOY", None)
        if deploy is None:
            continue
        if not isinstance(deploy, FunctionSpec):
            raise HandlerError(f"{path}: DEPLOY must be a cryptoalerts.deploy.spec.FunctionSpec")
        module_name, _, function = deploy.handler.partition(".")
        if module_name != path.stem or not callable(getattr(module, function, None)):
            raise HandlerError(f"{path}: DEPLOY.handler={deploy.handler!r} does not name a function of this file")
        specs.append(deploy)
    if not specs:
        raise HandlerError(f"no handler file in {folder} declares DEPLOY")
    return sorted(specs, key=lambda s: s.name)


def handler_problems(template: Mapping[str, Any], directory: str | Path | None = None) -> list[str]:
    """What is wrong with the template's ``Handler`` values: each must be ``file.function``
    with ``file.py`` in the handler folder defining ``function`` at top level."""
    folder = handlers_dir(directory)
    problems = []
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        handler = str(resource.get("Properties", {}).get("Handler", ""))
        module_name, _, function = handler.rpartition(".")
        path = folder / f"{module_name}.py"
        if not module_name or not path.is_file():
            problems.append(f"{logical_id}: Handler {handler!r} names no file in {folder}")
        elif function not in defined_functions(path):
            problems.append(f"{logical_id}: Handler {handler!r}: {path.name} defines no {function!r}")
    return problems
