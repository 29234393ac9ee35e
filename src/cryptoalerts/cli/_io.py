"""Reading alert and tick files, and writing fires, for the data commands.

Files are read lazily, one line at a time, so a file of any size streams in
constant memory. A line that cannot be parsed becomes a :class:`BadLine` (file,
line number, what is wrong) instead of an exception, so the caller decides whether
to stop or skip it; :func:`batched` stops *after* handing on every good item that
came before the bad line, so no work already read is lost.

Formats: JSONL (one JSON object per line, the model's field names) or CSV with a
header row naming the fields. A ``.csv`` suffix means CSV, ``.jsonl``/``.ndjson``/
``.json`` mean JSONL; otherwise the first non-blank character decides (``{`` is
JSONL). ``-`` reads standard input.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, TypeVar

from cryptoalerts.cli import UsageError
from cryptoalerts.errors import ValidationError
from cryptoalerts.model import ALERT_FIELDS, Alert, Fired, Tick

__all__ = ["BadLine", "FireWriter", "batched", "read_alerts", "read_ticks"]

T = TypeVar("T")

_JSONL_SUFFIXES: Final = frozenset({".jsonl", ".ndjson", ".json"})
_TICK_FIELDS: Final = ("symbol", "price", "ts")
_ALERT_REQUIRED: Final = ("id", "symbol", "condition")


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line that could not be parsed: ``path:lineno: message``."""

    path: str
    lineno: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.message}"


@contextmanager
def _open_text(path: str) -> Iterator[IO[str]]:
    if path == "-":
        yield sys.stdin
        return
    try:
        # utf-8-sig: also reads files saved with a byte-order mark (spreadsheet CSV exports)
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    with handle:
        yield handle


def _sniff(path: str, handle: IO[str]) -> tuple[bool, Iterable[str]]:
    """Whether ``handle`` holds CSV, and its lines from the start (works on stdin too)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return True, handle
    if suffix in _JSONL_SUFFIXES:
        return False, handle
    head: list[str] = []
    try:
        for line in handle:
            head.append(line)
            if line.strip():
                break
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}:{len(head) + 1}: not UTF-8 text ({exc.reason})") from exc
    is_csv = not (head and head[-1].lstrip().startswith("{"))
    return is_csv, itertools.chain(head, handle)


def _read_lines(path: str, handle: Iterable[str]) -> Iterator[tuple[int, str]]:
    lineno = 0
    try:
        for lineno, line in enumerate(handle, 1):
            yield lineno, line
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}:{lineno + 1}: not UTF-8 text ({exc.reason})") from exc


def _jsonl(path: str, handle: Iterable[str], build: Callable[[dict[str, Any]], T]) -> Iterator[T | BadLine]:
    for lineno, line in _read_lines(path, handle):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield BadLine(path, lineno, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        try:
            yield build(data)
        except ValidationError as exc:
            yield BadLine(path, lineno, str(exc))


def _csv(
    path: str, handle: Iterable[str], kind: str, check_header: Callable[[list[str]], str | None],
    build: Callable[[dict[str, Any]], T],
) -> Iterator[T | BadLine]:
    lines = (line for _, line in _read_lines(path, handle))
    reader = csv.reader(lines)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        return
    except csv.Error as exc:
        raise UsageError(f"{path}:1: bad CSV header: {exc}") from exc
    problem = check_header(header)
    if problem:
        raise UsageError(f"{path}:1: bad CSV header for {kind}: {problem}")
    width = len(header)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield BadLine(path, reader.line_num, f"bad CSV: {exc}")
            continue
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != width:
            yield BadLine(path, reader.line_num, f"expected {width} fields ({','.join(header)}), got {len(row)}")
            continue
        try:
            yield build(dict(zip(header, row, strict=True)))
        except ValidationError as exc:
            yield BadLine(path, reader.line_num, str(exc))


def _tick_header(header: list[str]) -> str | None:
    if sorted(header) != sorted(_TICK_FIELDS):
        return f"expected the columns symbol,price,ts (any order), got {','.join(header) or 'nothing'}"
    return None


def _alert_header(header: list[str]) -> str | None:
    unknown = [name for name in header if name not in ALERT_FIELDS]
    if unknown:
        return f"unknown column {unknown[0]!r}; columns are Alert fields: {', '.join(ALERT_FIELDS)}"
    missing = [name for name in _ALERT_REQUIRED if name not in header]
    if missing:
        return f"missing column {missing[0]!r} (id, symbol and condition are required)"
    if len(set(header)) != len(header):
        return "a column is named twice"
    return None


def _read(
    path: str, kind: str, check_header: Callable[[list[str]], str | None], build: Callable[[dict[str, Any]], T]
) -> Iterator[T | BadLine]:
    with _open_text(path) as handle:
        is_csv, lines = _sniff(path, handle)
        if is_csv:
            yield from _csv(path, lines, kind, check_header, build)
        else:
            yield from _jsonl(path, lines, build)


def read_alerts(path: str) -> Iterator[Alert | BadLine]:
    """Alerts from a JSONL or CSV file, in file order; bad lines as :class:`BadLine`.

    Raises:
        UsageError: the file cannot be opened or decoded, or its CSV header is wrong.
    """
    return _read(path, "alerts", _alert_header, Alert.from_dict)


def read_ticks(path: str) -> Iterator[Tick | BadLine]:
    """Ticks from a CSV (``symbol,price,ts``) or JSONL file, in file order; bad lines as :class:`BadLine`.

    Raises:
        UsageError: the file cannot be opened or decoded, or its CSV header is wrong.
    """
    return _read(path, "ticks", _tick_header, Tick.from_dict)


def batched(
    items: Iterable[T | BadLine], size: int, *, skip_bad: bool, report: Callable[[BadLine], None]
) -> Iterator[list[T]]:
    """Group ``items`` into lists of up to ``size``.

    A bad line is passed to ``report`` and skipped when ``skip_bad``; otherwise the
    good items before it are yielded first and then :class:`UsageError` is raised,
    so a caller that processes each batch as it comes loses nothing.
    """
    batch: list[T] = []
    for item in items:
        if isinstance(item, BadLine):
            if skip_bad:
                report(item)
                continue
            if batch:
                yield batch
            raise UsageError(f"{item} (use --skip-bad-lines to skip such lines)")
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class FireWriter:
    """Fires as JSONL (``Fired.to_dict()`` per line) to a file or standard output.

    Flushed after every :meth:`write`, so what was written survives a later error.
    A context manager; standard output is never closed.
    """

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.count = 0
        self._handle: IO[str] | None = None

    def __enter__(self) -> FireWriter:
        if self.path is None or self.path == "-":
            self._handle = sys.stdout
        else:
            try:
                self._handle = open(self.path, "w", encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"cannot write {self.path}: {exc.strerror or exc}") from exc
        return self

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None and self._handle is not sys.stdout:
            self._handle.close()
        self._handle = None

    def write(self, fires: Iterable[Fired]) -> None:
        assert self._handle is not None, "use FireWriter as a context manager"
        dumps = json.dumps
        lines = [dumps(f.to_dict(), separators=(",", ":")) + "\n" for f in fires]
        if lines:
            self._handle.writelines(lines)
            self._handle.flush()
            self.count += len(lines)
