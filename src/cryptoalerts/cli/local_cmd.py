"""``cryptoalerts local``: the three Lambda functions on this machine, with Lambda's async semantics.

Serves the webhook on http://127.0.0.1:PORT (any path, POST), runs AlertMatcher
and ProcessedAlerts from the async queue with retries and destinations (see
:mod:`cryptoalerts.aws.local`), writes notifications as JSONL (the SNS topic's
stand-in) and failure records as JSONL (the SQS failure queue's stand-in).
The webhook secret comes from ``WEBHOOK_SECRET``; it is never a command-line
argument, so it stays out of shell history and process listings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from cryptoalerts.cli import UsageError

__all__ = ["register"]

DEFAULT_STORE = "sqlite://cryptoalerts.db"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "local",
        help="run the webhook, matcher and notifier locally with Lambda's async-invoke semantics",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument(
        "--store",
        default=None,
        help=f"store URL (default $CRYPTOALERTS_STORE or {DEFAULT_STORE}; dynamodb://Table?endpoint_url=... works)",
    )
    p.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default %(default)s; 0 picks one)")
    p.add_argument("--notifications", default="notifications.jsonl", help="JSONL file of notifications")
    p.add_argument("--failures", default="failures.jsonl", help="JSONL file of failure destination records")
    p.add_argument(
        "--time-scale",
        type=float,
        default=0.01,
        help="multiplies Lambda's retry delays (60 s, 120 s) and maximum event age (default %(default)s)",
    )
    p.add_argument(
        "--duplicate", action="store_true", help="deliver every matcher event twice, as Lambda occasionally does"
    )
    p.set_defaults(func=cmd_local)


def cmd_local(args: argparse.Namespace) -> int:
    secret = os.environ.get("WEBHOOK_SECRET")
    if not secret:
        raise UsageError("set WEBHOOK_SECRET to the secret price feeds sign with")
    if args.time_scale <= 0:
        raise UsageError(f"--time-scale must be > 0, got {args.time_scale}")
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0..65535, got {args.port}")
    store = args.store or os.environ.get("CRYPTOALERTS_STORE") or DEFAULT_STORE
    asyncio.run(_serve(args, store, secret.encode("utf-8")))  # Ctrl-C: the CLI's main reports it
    return 0


async def _serve(args: argparse.Namespace, store: str, secret: bytes) -> None:
    from cryptoalerts.aws.local import LocalRuntime
    from cryptoalerts.aws.publish import JsonlPublisher

    runtime = LocalRuntime(
        store,
        secret=secret,
        publisher=JsonlPublisher(Path(args.notifications)),
        time_scale=args.time_scale,
        duplicate={"AlertMatcher"} if args.duplicate else (),
        failure_path=Path(args.failures),
        port=args.port,
    )
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError):  # no signal handlers in Windows event loops
        # SIGTERM (docker stop, systemd, kill) stops as gracefully as Ctrl-C, with exit code 0.
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with runtime:
        print(f"webhook: POST {runtime.url}/ticks  store: {store}", flush=True)
        print(f"notifications -> {args.notifications}  failures -> {args.failures}  (Ctrl-C stops)", flush=True)
        await stop.wait()
    print("cryptoalerts local: stopped", file=sys.stderr)
