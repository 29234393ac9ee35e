"""The sample data behind ``cryptoalerts demo``: small, reproducible, and as described."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from cryptoalerts import Condition, ReferenceIndex, Trigger
from cryptoalerts.data import generate, load_market, sample_alerts, sample_ticks
from cryptoalerts.data.sample import ALERTS_FILE, MARKET_FILE, simulate

DATA = resources.files("cryptoalerts.data")


def test_generator_reproduces_the_shipped_files(tmp_path: Path) -> None:
    assert generate.main(["--dir", str(tmp_path)]) == 0
    for name in (MARKET_FILE, ALERTS_FILE):
        assert (tmp_path / name).read_bytes() == DATA.joinpath(name).read_bytes(), name


def test_shipped_data_is_small() -> None:
    total = sum(len(DATA.joinpath(name).read_bytes()) for name in (MARKET_FILE, ALERTS_FILE))
    assert total < 1_000_000


def test_market_is_as_the_readme_says() -> None:
    market = load_market()
    assert len(market.symbols) == 20
    assert market.seconds == 3 * 86_400
    assert market.interval_s == 10
    assert market.seconds // market.interval_s * len(market.symbols) == 518_400


def test_ticks_are_deterministic_and_carry_re_deliveries() -> None:
    first, again = sample_ticks(seconds=7200), sample_ticks(seconds=7200)
    assert np.array_equal(first.prices, again.prices)
    assert np.array_equal(first.timestamps, again.timestamps)
    assert np.array_equal(first.symbols, again.symbols)
    index = ReferenceIndex()
    index.match_batch(first.symbols.tolist(), first.prices, first.timestamps)
    counts = index.counts
    assert counts.accepted == 720 * 20
    assert counts.stale > 0
    assert counts.duplicate > 0
    assert counts.accepted + counts.stale + counts.duplicate == len(first)


def test_prices_sit_on_the_symbol_increment() -> None:
    market = load_market()
    for spec in market.symbols[:5]:
        prices = simulate(spec, 5000)
        units = prices * spec.scale
        assert np.allclose(units, np.rint(units), rtol=0, atol=1e-6)
        assert prices[0] == round(spec.start * spec.scale) / spec.scale
        assert (prices > 0).all()


def test_alerts_cover_every_condition_and_trigger() -> None:
    alerts = sample_alerts()
    assert len(alerts) == 3000
    assert {a.condition for a in alerts} == set(Condition)
    assert {a.trigger for a in alerts} == set(Trigger)
    assert any(a.expires_at is not None for a in alerts)
    assert any(a.cooldown_s > 0 for a in alerts)
    assert len({a.id for a in alerts}) == len(alerts)
    symbols = {s.symbol for s in load_market().symbols}
    assert {a.symbol for a in alerts} == symbols
