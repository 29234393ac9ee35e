"""Regenerate the sample data: ``python -m cryptoalerts.data.generate``.

Writes ``sample_market.json`` (the market's parameters) and ``sample_alerts.jsonl``
(alerts placed against the rebuilt price paths, so most of them fire at some point
and some never do) next to this file. Deterministic: running it again rewrites the
same bytes, so the committed files can be checked against it.
"""

from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path

import numpy as np

from cryptoalerts.data.sample import ALERTS_FILE, MARKET_FILE, Market, SymbolSpec, simulate
from cryptoalerts.model import Alert, Condition, Trigger

# symbol, start price, units per 1, volatility multiplier, jumps per day
_SYMBOLS = (
    ("BTC-USD", 97_000.0, 100, 1, 2),
    ("ETH-USD", 3_400.0, 100, 1, 3),
    ("SOL-USD", 190.0, 100, 2, 4),
    ("BNB-USD", 640.0, 100, 1, 2),
    ("XRP-USD", 2.2, 10_000, 2, 4),
    ("ADA-USD", 0.95, 10_000, 2, 4),
    ("DOGE-USD", 0.32, 100_000, 3, 6),
    ("AVAX-USD", 38.0, 100, 2, 4),
    ("DOT-USD", 7.1, 1_000, 2, 3),
    ("LINK-USD", 22.0, 1_000, 2, 3),
    ("POL-USD", 0.45, 10_000, 3, 5),
    ("LTC-USD", 105.0, 100, 2, 3),
    ("BCH-USD", 450.0, 100, 2, 3),
    ("ATOM-USD", 6.8, 1_000, 2, 3),
    ("UNI-USD", 13.5, 1_000, 2, 4),
    ("NEAR-USD", 5.2, 1_000, 2, 4),
    ("APT-USD", 9.1, 1_000, 3, 5),
    ("ARB-USD", 0.78, 10_000, 3, 5),
    ("OP-USD", 1.9, 10_000, 3, 5),
    ("TRX-USD", 0.25, 100_000, 1, 2),
)
_T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
_SEED = 20260101
_CHANNELS = ("email", "sms", "push", "webhook")
_COOLDOWNS = (0.0, 60.0, 300.0, 900.0, 3600.0)
_WINDOWS = (60.0, 300.0, 900.0, 1800.0, 3600.0)


def build_market(days: float, interval_s: int) -> Market:
    rng = random.Random(_SEED)
    specs = tuple(
        SymbolSpec(sym, start, scale, vol, jumps, rng.randrange(1000), rng.randrange(2**32))
        for sym, start, scale, vol, jumps in _SYMBOLS
    )
    return Market(_T0, int(days * 86_400), interval_s, specs, duplicate_ppm=2_000, late_ppm=1_000, seed=_SEED)


def _level(rng: random.Random, lo: float, hi: float, scale: int) -> float:
    """A price level in or a little beyond the path's range, often a round number."""
    x = lo + (hi - lo) * rng.uniform(-0.05, 1.05)
    if rng.random() < 0.3:  # round numbers: many alerts share a threshold
        digits = 3 - math.floor(math.log10(x))
        return round(x, digits) if round(x, digits) > 0 else x
    return max(round(x * scale), 1) / scale


def build_alerts(market: Market, count: int) -> list[Alert]:
    rng = random.Random(_SEED + 1)
    paths = {s.symbol: (s, simulate(s, market.seconds)[:: market.interval_s]) for s in market.symbols}
    conditions = list(Condition)
    alerts: list[Alert] = []
    for i in range(count):
        spec, path = paths[rng.choice(list(paths))]
        lo, hi = float(np.min(path)), float(np.max(path))
        condition = conditions[i % len(conditions)]
        params: dict[str, float] = {}
        if condition in (Condition.ENTERS_CHANNEL, Condition.EXITS_CHANNEL):
            centre = _level(rng, lo, hi, spec.scale)
            half = centre * rng.uniform(0.002, 0.015)
            params = {"lower": round((centre - half) * spec.scale) / spec.scale,
                      "upper": round((centre + half) * spec.scale) / spec.scale}
            if params["lower"] >= params["upper"] or params["lower"] <= 0:
                params = {"lower": centre * 0.99, "upper": centre * 1.01}
        elif condition in (Condition.MOVES_UP_PCT, Condition.MOVES_DOWN_PCT):
            params = {"pct": rng.choice((0.5, 1.0, 1.5, 2.0, 3.0, 5.0)), "window_s": rng.choice(_WINDOWS)}
        else:
            params = {"threshold": _level(rng, lo, hi, spec.scale)}
        rearm = rng.random() < 0.35
        expires = market.t0 + market.seconds * rng.uniform(0.1, 1.0) if rng.random() < 0.15 else None
        alerts.append(Alert(
            id=f"{spec.symbol.split('-')[0].lower()}-{i:05d}",
            symbol=spec.symbol,
            condition=condition,
            trigger=Trigger.REARM if rearm else Trigger.ONCE,
            cooldown_s=rng.choice(_COOLDOWNS) if rearm else 0.0,
            expires_at=None if expires is None else round(expires),
            owner=f"user-{rng.randrange(400):04d}",
            channel=rng.choice(_CHANNELS),
            note="sample" if rng.random() < 0.05 else None,
            **params,  # type: ignore[arg-type]  # floats are what the fields hold after validation
        ))
    return alerts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=3.0, help="length of the market (default 3 days)")
    parser.add_argument("--interval", type=int, default=10, help="seconds between a symbol's ticks (default 10)")
    parser.add_argument("--alerts", type=int, default=3000, help="number of alerts (default 3000)")
    parser.add_argument("--dir", type=Path, default=Path(__file__).parent, help="where to write")
    args = parser.parse_args(argv)
    market = build_market(args.days, args.interval)
    (args.dir / MARKET_FILE).write_text(json.dumps(market.to_dict(), indent=1) + "\n", encoding="utf-8")
    with (args.dir / ALERTS_FILE).open("w", encoding="utf-8") as out:
        for alert in build_alerts(market, args.alerts):
            out.write(json.dumps(alert.to_dict(), separators=(",", ":")) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
