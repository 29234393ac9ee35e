"""The ``cryptoalerts`` command line.

Each group of subcommands lives in its own module with a ``register(subparsers)``
function; this module only wires them together. Heavy imports (rich, aiobotocore,
cfn-lint) happen inside the subcommands, never here, so ``--help`` is instant.

Errors are one line on stderr and a non-zero exit: 2 for bad usage or bad input,
1 for everything else the library reports as a :class:`CryptoAlertsError`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from cryptoalerts.errors import CryptoAlertsError

__all__ = ["main"]

# Modules that provide subcommands, in the order --help lists them.
_COMMAND_MODULES = (
    "cryptoalerts.cli.data_cmds",  # demo, replay, init, fired, alerts
    "cryptoalerts.cli.local_cmd",  # local
    "cryptoalerts.cli.deploy_cmds",  # template, check, package
)


class UsageError(CryptoAlertsError, ValueError):
    """Bad command-line input (a file that cannot be read, a bad line, ...): exit 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cryptoalerts",
        description="Match crypto price ticks against very many price alerts.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a real missing dependency inside the module
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.func(args)
    except UsageError as exc:
        print(f"cryptoalerts {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except CryptoAlertsError as exc:
        print(f"cryptoalerts {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"cryptoalerts {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)
