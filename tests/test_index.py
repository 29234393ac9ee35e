"""Unit tests of the index: every row of the semantics table at its boundaries.

Each case runs on the fast ``AlertIndex`` and on the brute-force ``ReferenceIndex``
(the literal table), so the table, the model and the index cannot drift apart.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from cryptoalerts import (
    Alert,
    AlertIndex,
    AlertNotFoundError,
    AlertState,
    DuplicateAlertError,
    ReferenceIndex,
    Tick,
    ValidationError,
)
from cryptoalerts._bulk import _sort_order

INDEXES = [AlertIndex, ReferenceIndex]


def fired_ids(index: Any, symbol: str, prices: list[float], start_ts: float = 1.0) -> list[list[str]]:
    """Feed prices one second apart; the ids fired by each tick."""
    return [[f.alert_id for f in index.match(Tick(symbol, p, start_ts + i))] for i, p in enumerate(prices)]


def one(cls: type, **fields: Any) -> Any:
    fields.setdefault("id", "x")
    fields.setdefault("symbol", "BTC")
    return cls([Alert(**fields)])


# -- the table, row by row, at the boundaries --------------------------------------
@pytest.mark.parametrize("cls", INDEXES)
@pytest.mark.parametrize(
    ("condition", "params", "prices", "expected"),
    [
        ("above", {"threshold": 100}, [99.99, 100], [[], ["x"]]),
        ("above", {"threshold": 100}, [100], [["x"]]),  # level: no prev needed
        ("below", {"threshold": 100}, [100.01, 100], [[], ["x"]]),
        ("crosses_up", {"threshold": 100}, [99, 100], [[], ["x"]]),  # prev < t <= price: lands on t
        ("crosses_up", {"threshold": 100}, [100, 101], [[], []]),  # prev == t is not below t
        ("crosses_up", {"threshold": 100}, [100], [[]]),  # first tick: no prev
        ("crosses_down", {"threshold": 100}, [101, 100], [[], ["x"]]),  # prev > t >= price
        ("crosses_down", {"threshold": 100}, [100, 99], [[], []]),
        ("crosses", {"threshold": 100}, [99, 100, 99], [[], ["x"], []]),  # once
        ("enters_channel", {"lower": 10, "upper": 20}, [9, 10], [[], ["x"]]),  # lower edge is inside
        ("enters_channel", {"lower": 10, "upper": 20}, [21, 20], [[], ["x"]]),  # upper edge is inside
        ("enters_channel", {"lower": 10, "upper": 20}, [9, 21], [[], []]),  # jumped over it
        ("enters_channel", {"lower": 10, "upper": 20}, [10, 15], [[], []]),  # was inside already
        ("exits_channel", {"lower": 10, "upper": 20}, [10, 9.99], [[], ["x"]]),
        ("exits_channel", {"lower": 10, "upper": 20}, [20, 20.01], [[], ["x"]]),
        ("exits_channel", {"lower": 10, "upper": 20}, [9, 21], [[], []]),  # was never inside
        ("moves_up_pct", {"pct": 10, "window_s": 5}, [100, 109.99, 110], [[], [], ["x"]]),
        ("moves_down_pct", {"pct": 10, "window_s": 5}, [100, 90.01, 90], [[], [], ["x"]]),
    ],
)
def test_table_row(cls: type, condition: str, params: dict[str, Any], prices: list[float], expected: Any) -> None:
    index = one(cls, condition=condition, **params)
    assert fired_ids(index, "BTC", prices) == expected


@pytest.mark.parametrize("cls", INDEXES)
def test_decimal_strings_compare_exactly(cls: type) -> None:
    index = one(cls, condition="above", threshold="0.1")
    assert fired_ids(index, "BTC", ["0.09999999999999", "0.1"]) == [[], ["x"]]  # type: ignore[list-item]


@pytest.mark.parametrize("cls", INDEXES)
def test_pct_window_forgets_old_ticks(cls: type) -> None:
    index = one(cls, condition="moves_up_pct", pct=10, window_s=5)
    # 100 at t=1 falls out of the window [t-5, t] at t=6.5: the min is then 105.
    got = [[f.alert_id for f in index.match(Tick("BTC", p, t))] for p, t in [(100, 1), (105, 2), (112, 6.5)]]
    assert got == [[], [], []]
    index2 = one(cls, condition="moves_up_pct", pct=10, window_s=5)
    got2 = [[f.alert_id for f in index2.match(Tick("BTC", p, t))] for p, t in [(100, 1), (105, 2), (110, 6)]]
    assert got2 == [[], [], ["x"]]  # ts - w == 1: the edge is inside the window


@pytest.mark.parametrize("cls", INDEXES)
def test_pct_window_includes_ticks_before_the_alert(cls: type) -> None:
    index = cls()
    index.match(Tick("BTC", 100, 1))
    index.add(Alert(id="x", symbol="BTC", condition="moves_up_pct", pct=10, window_s=60))
    assert [f.alert_id for f in index.match(Tick("BTC", 110, 2))] == ["x"]


# -- stale and duplicate ticks ---------------------------------------------------
@pytest.mark.parametrize("cls", INDEXES)
def test_stale_and_duplicate_ticks_are_counted_not_matched(cls: type) -> None:
    index = one(cls, condition="crosses", threshold=100, trigger="rearm")
    assert index.match(Tick("BTC", 99, 10)) == []
    assert index.match(Tick("BTC", 101, 9)) == []  # stale: older than the last accepted
    assert index.match(Tick("BTC", 99, 10)) == []  # duplicate: same ts and price
    assert [f.seq for f in index.match(Tick("BTC", 101, 10))] == [1]  # same ts, new price: accepted
    assert (index.counts.accepted, index.counts.stale, index.counts.duplicate) == (2, 1, 1)


# -- rearm, cooldown -------------------------------------------------------------
@pytest.mark.parametrize("cls", INDEXES)
def test_level_rearm_fires_once_per_excursion(cls: type) -> None:
    index = one(cls, condition="above", threshold=100, trigger="rearm")
    got = [[(f.alert_id, f.seq) for f in index.match(Tick("BTC", p, i))] for i, p in enumerate([101, 102, 99, 100])]
    assert got == [[("x", 1)], [], [], [("x", 2)]]
    assert index.alert_state("x") == AlertState(armed=False, last_fire_ts=3.0, seq=2)


@pytest.mark.parametrize("cls", INDEXES)
def test_event_rearm_fires_on_every_crossing(cls: type) -> None:
    index = one(cls, condition="crosses_up", threshold=100, trigger="rearm")
    assert fired_ids(index, "BTC", [99, 100, 99, 101]) == [[], ["x"], [], ["x"]]


@pytest.mark.parametrize("cls", INDEXES)
def test_cooldown_blocks_and_forgets(cls: type) -> None:
    index = one(cls, condition="crosses_up", threshold=100, trigger="rearm", cooldown_s=10)
    got = [
        [f.seq for f in index.match(Tick("BTC", p, t))]
        for p, t in [(99, 0), (100, 1), (99, 2), (101, 5), (99, 6), (99.5, 10), (101, 11)]
    ]
    # the crossing at t=5 is inside the cooldown and is not remembered; t=11 is past it
    assert got == [[], [1], [], [], [], [], [2]]


@pytest.mark.parametrize("cls", INDEXES)
def test_level_alert_cooling_down_fires_when_cooldown_ends(cls: type) -> None:
    index = one(cls, condition="below", threshold=100, trigger="rearm", cooldown_s=5)
    got = [[f.seq for f in index.match(Tick("BTC", p, t))] for p, t in [(99, 0), (101, 1), (99, 2), (98, 5)]]
    assert got == [[1], [], [], [2]]  # re-armed at t=1, cooling at t=2, fires at t=5 = 0 + 5


# -- expiry ------------------------------------------------------------------------
@pytest.mark.parametrize("cls", INDEXES)
def test_never_fires_at_or_after_expiry(cls: type) -> None:
    index = one(cls, condition="above", threshold=100, expires_at=5)
    assert index.match(Tick("BTC", 101, 5)) == []
    index2 = one(cls, condition="above", threshold=100, expires_at=5)
    assert [f.alert_id for f in index2.match(Tick("BTC", 101, 4.999))] == ["x"]


@pytest.mark.parametrize("cls", INDEXES)
def test_purge_expired(cls: type) -> None:
    index = cls(
        [
            Alert(id="a", symbol="BTC", condition="above", threshold=1, expires_at=5),
            Alert(id="b", symbol="BTC", condition="above", threshold=1, expires_at=10),
            Alert(id="c", symbol="ETH", condition="below", threshold=1),
        ]
    )
    assert index.purge_expired(5) == 1
    assert len(index) == 2
    assert "a" not in index
    assert sorted(a.id for a in index.alerts()) == ["b", "c"]
    assert index.purge_expired(100) == 1
    assert [a.id for a in index.alerts("ETH")] == ["c"]


# -- edits ------------------------------------------------------------------------
def test_remove_and_discard_with_thousands_sharing_a_threshold() -> None:
    alerts = [Alert(id=f"a{i}", symbol="BTC", condition="above", threshold=100) for i in range(3000)]
    index = AlertIndex.from_alerts(alerts)
    for i in range(0, 3000, 2):
        index.remove(f"a{i}")
    index.discard("a1")
    index.discard("missing")
    index._check()
    assert len(index) == 1499
    with pytest.raises(AlertNotFoundError) as err:
        index.remove("missing")
    assert isinstance(err.value, KeyError)
    fired = index.match(Tick("BTC", 100, 1))
    assert len(fired) == 1499
    assert [f.alert_id for f in fired] == sorted(f.alert_id for f in fired)
    assert len(index) == 0


@pytest.mark.parametrize("cls", INDEXES)
def test_duplicate_id_is_refused(cls: type) -> None:
    index = one(cls, condition="above", threshold=1)
    with pytest.raises(DuplicateAlertError):
        index.add(Alert(id="x", symbol="ETH", condition="below", threshold=1))


def test_add_many_refuses_a_repeated_id_before_adding_anything() -> None:
    index = AlertIndex()
    batch = [Alert(id="a", symbol="S", condition="above", threshold=1)] * 2
    with pytest.raises(DuplicateAlertError):
        index.add_many(batch)
    assert len(index) == 0


@pytest.mark.parametrize(("n_groups", "n_keys"), [(1, 2), (7, 50), (300, 10**6), (70_000, 10**9), (3, 1)])
def test_bulk_placement_order_is_a_stable_lexsort(n_groups: int, n_keys: int) -> None:
    """The bulk build's sort (unstable by key, then runs of equal keys put back in position
    order, then stable by group) must order exactly as a stable sort by (group, key)."""
    rng = np.random.default_rng(n_groups)
    group = rng.integers(0, n_groups, 5000)
    key = rng.integers(1, n_keys + 1, 5000) * 0.25
    assert np.array_equal(_sort_order(group, key), np.lexsort((key, group)))


def test_window_longer_than_history_is_refused() -> None:
    with pytest.raises(ValidationError, match="history_s"):
        AlertIndex(history_s=60).add(Alert(id="p", symbol="S", condition="moves_up_pct", pct=1, window_s=61))


@pytest.mark.parametrize("cls", INDEXES)
def test_recreated_once_alert_goes_on_counting(cls: type) -> None:
    index = cls()
    index.add(Alert(id="x", symbol="BTC", condition="above", threshold=1), AlertState(seq=3))
    assert [f.seq for f in index.match(Tick("BTC", 2, 1))] == [4]
    index.add(Alert(id="y", symbol="BTC", condition="above", threshold=1), AlertState(last_fire_ts=1.0, seq=1))
    assert "y" not in index  # a fired once alert never comes back


# -- state export / restore ---------------------------------------------------------
def test_export_restore_goes_on_identically() -> None:
    alerts = [
        Alert(id="lvl", symbol="BTC", condition="above", threshold=100, trigger="rearm", cooldown_s=3),
        Alert(id="pct", symbol="BTC", condition="moves_up_pct", pct=5, window_s=30, trigger="rearm"),
        Alert(id="ch", symbol="BTC", condition="exits_channel", lower=95, upper=105, trigger="rearm"),
    ]
    live = AlertIndex(alerts)
    ticks = [Tick("BTC", p, t) for t, p in enumerate([100, 101, 99, 104, 106, 94, 100, 107, 99, 108])]
    for tick in ticks[:5]:
        live.match(tick)
    restored = AlertIndex(alerts)
    restored.restore_state(live.export_state())
    for tick in ticks[5:]:
        assert restored.match(tick) == live.match(tick)
    assert restored.export_state() == live.export_state()


def test_exported_history_keeps_only_possible_window_extremes_and_restores_exactly() -> None:
    rng = np.random.default_rng(3)
    alerts = [
        Alert(id=f"m{i}", symbol="BTC", condition="moves_up_pct" if i % 2 else "moves_down_pct",
              pct=float(rng.choice([0.2, 0.5, 1.0])), window_s=float(rng.choice([60.0, 600.0, 3600.0])),
              trigger="rearm" if i % 3 else "once", cooldown_s=float(rng.choice([0.0, 30.0])))
        for i in range(40)
    ]  # fmt: skip
    prices = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.0005, 6000))), 3).tolist()
    live = AlertIndex(alerts)
    for t, price in enumerate(prices[:4000]):
        live.match(Tick("BTC", price, float(t)))
    state = live.export_state()
    kept = state.symbols["BTC"].history_price
    assert 10 < len(kept) < 400  # of 3,601 ticks in the last hour
    restored = AlertIndex(live.alerts())  # once alerts that fired are gone (a store keeps that)
    restored.restore_state(state)
    fires = 0
    for t, price in enumerate(prices[4000:], start=4000):
        expected = live.match(Tick("BTC", price, float(t)))
        assert restored.match(Tick("BTC", price, float(t))) == expected
        fires += len(expected)
    assert fires > 20


def _rearm_moves(rng: np.random.Generator, symbol: str, n: int, pcts: list[float], windows: list[float]) -> list[Alert]:
    """``n`` re-arming percentage moves, up and down in turn, with pct and window drawn from the lists."""
    return [
        Alert(id=f"m{i}", symbol=symbol, condition="moves_up_pct" if i % 2 else "moves_down_pct",
              pct=float(rng.choice(pcts)), window_s=float(rng.choice(windows)), trigger="rearm")
        for i in range(n)
    ]  # fmt: skip


def test_frequent_exports_stay_small_and_each_restores_exactly() -> None:
    """An engine exports a symbol after every few ticks: each export restores to the same matching."""
    from cryptoalerts.index import _EXPORT_SLACK

    rng = np.random.default_rng(11)
    alerts = _rearm_moves(rng, "ETH", 12, pcts=[0.1, 0.3], windows=[30.0, 300.0])
    prices = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.0005, 3000))), 3).tolist()
    live = AlertIndex(alerts, history_s=300.0)
    sizes = []
    for start in range(0, 2400, 7):
        live.match_batch("ETH", prices[start : start + 7], [float(t) for t in range(start, start + 7)])
        sizes.append(len(live.export_state(["ETH"], alerts=False).symbols["ETH"].history_price))
    state = live.export_state()
    trimmed = AlertIndex(alerts, history_s=300.0)
    trimmed.restore_state(state)
    trimmed._trim(trimmed._books["ETH"], 2399.0)  # what a full trim keeps
    needed = len(trimmed._books["ETH"].hist_ts)
    assert max(sizes) < 400
    assert sizes[-1] <= needed + _EXPORT_SLACK + 7
    restored = AlertIndex(alerts, history_s=300.0)
    restored.restore_state(state)
    fires = 0
    for t in range(2400, 3000):
        expected = live.match(Tick("ETH", prices[t], float(t)))
        assert restored.match(Tick("ETH", prices[t], float(t))) == expected
        fires += len(expected)
    assert fires > 5


def test_a_busy_symbols_history_stays_small_and_matching_stays_exact() -> None:
    """10 ticks/s: the history keeps what a window's extremes can still be, not every tick of history_s."""
    rng = np.random.default_rng(5)
    alerts = _rearm_moves(rng, "BTC", 10, pcts=[0.3, 0.6], windows=[10.0, 120.0])
    n = 9_000
    prices = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.0003, n))), 3)
    ts = np.arange(n) / 10.0
    index = AlertIndex(alerts, history_s=600.0)  # 6,000 ticks
    got = index.match_batch("BTC", prices, ts)
    model = ReferenceIndex(alerts, history_s=120.0)  # as much as its windows need: faster
    expected = [f for p, t in zip(prices.tolist(), ts.tolist(), strict=True) for f in model.match(Tick("BTC", p, t))]
    assert got == expected
    assert len(expected) > 100
    assert len(index._books["BTC"].hist_ts) < 5_000  # 6,000 ticks in the last 600 s
    index._check()


@pytest.mark.parametrize("cls", INDEXES)
def test_export_state_of_a_symbol_without_its_alerts(cls: type) -> None:
    alerts = [
        Alert(id="b1", symbol="BTC", condition="above", threshold=100, trigger="rearm"),
        Alert(id="e1", symbol="ETH", condition="below", threshold=10, trigger="rearm"),
    ]
    index = cls(alerts)
    index.match(Tick("BTC", 101, 1))
    index.match(Tick("ETH", 9, 2))
    full = index.export_state(["BTC"])
    lean = index.export_state(["BTC"], alerts=False)
    assert lean.symbols == full.symbols
    assert list(lean.symbols) == ["BTC"]
    assert lean.alerts == {}
    assert set(full.alerts) == {"b1"}
    assert index.export_state(alerts=False).alerts == {}
    assert set(index.export_state(alerts=False).symbols) == {"BTC", "ETH"}


# -- batches ------------------------------------------------------------------------
def test_match_batch_equals_match_on_a_random_walk() -> None:
    rng = np.random.default_rng(7)
    symbols = [f"S{i}" for i in range(5)]
    alerts = []
    for i in range(2000):
        sym = symbols[i % 5]
        cond = ["above", "below", "crosses", "enters_channel", "moves_down_pct"][i % 5]
        base = 100 * (1 + rng.uniform(-0.02, 0.02))
        kw: dict[str, Any] = {"threshold": round(base, 2)}
        if cond == "enters_channel":
            kw = {"lower": round(base, 2), "upper": round(base + 0.5, 2)}
        elif cond == "moves_down_pct":
            kw = {"pct": float(rng.choice([0.1, 0.5, 1.0])), "window_s": 30.0}
        trigger = "rearm" if i % 3 == 0 else "once"
        alerts.append(Alert(id=f"a{i}", symbol=sym, condition=cond, trigger=trigger, **kw))
    n = 20_000
    syms = [symbols[i] for i in rng.integers(0, 5, n)]
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.0005, n)))
    ts = np.arange(n, dtype=float) + rng.integers(-2, 1, n)  # some out of order
    one_by_one = AlertIndex(alerts)
    expected = []
    for s, p, t in zip(syms, prices.tolist(), ts.tolist(), strict=True):
        expected.extend(one_by_one.match(Tick(s, p, t)))
    batched = AlertIndex.from_alerts(alerts)
    got = []
    for start in range(0, n, 3000):
        part = slice(start, start + 3000)
        got.extend(batched.match_batch(syms[part], prices[part], ts[part]))
    assert got == expected
    assert len(got) > 100
    assert batched.counts == one_by_one.counts
    batched._check()


def _fine_alert(rng: np.random.Generator, i: int, symbol: str) -> Alert:
    """One alert of any condition, its levels on the 0.01 grid the walks' prices use."""
    kinds = ["above", "below", "crosses_up", "crosses_down", "crosses", "enters_channel", "exits_channel"]
    cond = str(rng.choice(kinds + ["moves_up_pct", "moves_down_pct"] * 2))  # percentage moves twice as often
    level = round(100 * float(np.exp(rng.uniform(-0.04, 0.04))), 2)
    kw: dict[str, Any] = {"threshold": level}
    if cond.endswith("channel"):
        kw = {"lower": level, "upper": round(level * (1 + float(rng.uniform(0.003, 0.02))), 2)}
    elif cond.startswith("moves"):
        kw = {"pct": float(rng.choice([0.5, 0.8, 1.0, 1.5, 2.5])), "window_s": float(rng.choice([5.0, 20.0, 60.0]))}
    rearm = rng.random() < 0.4
    return Alert(
        id=f"f{i}", symbol=symbol, condition=cond, trigger="rearm" if rearm else "once",
        cooldown_s=float(rng.choice([0.0, 0.0, 3.0])) if rearm else 0.0,
        expires_at=float(rng.uniform(200, 1500)) if rng.random() < 0.2 else None, **kw,
    )  # fmt: skip


@pytest.mark.parametrize("seed", range(6))
def test_every_condition_agrees_with_the_model_on_fine_random_walks(seed: int) -> None:
    """``match`` and ``match_batch`` against the table applied literally, on fine prices.

    The stateful test draws prices from a coarse grid, which makes ties; these walks
    move in 0.3% steps on a 0.01 grid, so prices also land just inside and just
    outside the quiet bands the index derives from neighbouring keys and window
    extremes, where a wrong bound shows (a percentage band bound left too wide passes
    the stateful test and fails here).
    """
    rng = np.random.default_rng(seed)
    symbols = ["P", "Q"]
    alerts = [_fine_alert(rng, i, symbols[i % 2]) for i in range(240)]
    n = 3000
    syms = [symbols[k] for k in rng.integers(0, 2, n)]
    prices = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.003, n))), 2)
    ts = np.cumsum(rng.choice([0.0, 0.5, 1.0], n)) + rng.choice([0.0, 0.0, 0.0, -2.0], n)  # some stale
    model = ReferenceIndex(alerts, history_s=120.0)
    index = AlertIndex(alerts, history_s=120.0)
    batched = AlertIndex.from_alerts(alerts, history_s=120.0)
    expected = []
    got = []
    for s, p, t in zip(syms, prices.tolist(), ts.tolist(), strict=True):
        expected.extend(model.match(Tick(s, p, t)))
        got.extend(index.match(Tick(s, p, t)))
    in_batches = []
    for start in range(0, n, 500):
        part = slice(start, start + 500)
        in_batches.extend(batched.match_batch(syms[part], prices[part], ts[part]))
    assert got == expected
    assert in_batches == expected
    assert len({f.alert_id for f in expected}) > 60  # most alerts fire, many several times
    assert index.counts == batched.counts == model.counts
    index._check()
    batched._check()


@pytest.mark.parametrize(
    ("prices", "timestamps", "field"),
    [([1.0, float("nan")], [1, 2], "prices[1]"), ([1.0, -2.0], [1, 2], "prices[1]"),
     ([1.0, 2.0], [1, float("inf")], "timestamps[1]"), ([1.0, 2.0], [1], "timestamps")],
)  # fmt: skip
def test_match_batch_rejects_bad_input_and_changes_nothing(prices: Any, timestamps: Any, field: str) -> None:
    index = AlertIndex([Alert(id="a", symbol="S", condition="above", threshold=1.5)])
    with pytest.raises(ValidationError, match=field.replace("[", r"\[")):
        index.match_batch("S", prices, timestamps)
    assert len(index) == 1
    assert index.counts.accepted == 0


def test_match_batch_takes_huge_finite_numbers_whose_sum_overflows() -> None:
    """The small-batch check sums each column first; an overflow there is no error."""
    index = AlertIndex([Alert(id="a", symbol="S", condition="above", threshold=1e308)])
    fired = index.match_batch("S", [1e308, 1.5e308], [1e308, 1.7e308])
    assert [(f.alert_id, f.price) for f in fired] == [("a", 1e308)]
    assert index.counts.accepted == 2


@pytest.mark.parametrize("n", [10, 200])  # the plain-Python path for small batches, and the numpy one
@pytest.mark.parametrize("bad", [["S"], "", 7])
def test_match_batch_rejects_a_bad_symbol_and_changes_nothing(bad: Any, n: int) -> None:
    index = AlertIndex([Alert(id="a", symbol="S", condition="above", threshold=1.5)])
    symbols = ["S", "T"] * (n // 2)
    symbols[n - 1] = bad
    with pytest.raises(ValidationError, match="symbols") as err:
        index.match_batch(symbols, [2.0] * n, list(range(n)))
    assert err.value.value == bad
    assert len(index) == 1
    assert index.counts.accepted == 0


# -- model validation -------------------------------------------------------------
@pytest.mark.parametrize(
    ("fields", "names"),
    [
        ({"condition": "sideways", "threshold": 1}, "condition"),
        ({"condition": "above"}, "threshold"),
        ({"condition": "above", "threshold": "nan"}, "threshold"),
        ({"condition": "above", "threshold": float("inf")}, "threshold"),
        ({"condition": "above", "threshold": 0}, "threshold"),
        ({"condition": "above", "threshold": -1}, "threshold"),
        ({"condition": "above", "threshold": True}, "threshold"),
        ({"condition": "above", "threshold": "12abc"}, "threshold"),
        ({"condition": "above", "threshold": 1, "pct": 3}, "pct"),
        ({"condition": "enters_channel", "lower": 5, "upper": 5}, "lower"),
        ({"condition": "exits_channel", "lower": 6, "upper": 5}, "lower"),
        ({"condition": "moves_up_pct", "pct": 0, "window_s": 5}, "pct"),
        ({"condition": "moves_up_pct", "pct": -1, "window_s": 5}, "pct"),
        ({"condition": "moves_up_pct", "pct": 1, "window_s": 0}, "window_s"),
        ({"condition": "above", "threshold": 1, "trigger": "twice"}, "trigger"),
        ({"condition": "above", "threshold": 1, "cooldown_s": -1}, "cooldown_s"),
        ({"condition": "above", "threshold": 1, "expires_at": "soon"}, "expires_at"),
        ({"condition": "above", "threshold": 1, "id": ""}, "id"),
        ({"condition": "above", "threshold": 1, "symbol": "   "}, "symbol"),
    ],
)
def test_alert_rejects_bad_values_naming_the_field(fields: dict[str, Any], names: str) -> None:
    fields = {"id": "a", "symbol": "BTC", **fields}
    with pytest.raises(ValidationError) as err:
        Alert(**fields)
    assert err.value.field == names
    assert names in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(
    ("args", "field"),
    [(("BTC", "nan", 1), "price"), (("BTC", 0, 1), "price"), (("BTC", -5, 1), "price"),
     (("BTC", 1, float("inf")), "ts"), (("", 1, 1), "symbol"), (("BTC", "1e400", 1), "price")],
)  # fmt: skip
def test_tick_rejects_bad_values(args: tuple[Any, ...], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        Tick(*args)
    assert err.value.field == field


def test_numpy_numbers_become_plain_floats() -> None:
    # numpy.float64 is a float subclass: kept as it was, every comparison with it in
    # the index returned a numpy bool (slower, and not a bool for strict callers).
    alert = Alert(id="n", symbol="BTC", condition="enters_channel", lower=np.float64(1.5), upper=np.float32(2.5))
    tick = Tick("BTC", np.float64(2.0), np.float64(7.0))
    values = [alert.lower, alert.upper, tick.price, tick.ts]
    assert [type(v) for v in values] == [float] * 4
    assert values == [1.5, 2.5, 2.0, 7.0]
    index = AlertIndex([alert])
    index.match(Tick("BTC", np.float64(3.0), 1))
    (f,) = index.match(tick)
    assert type(f.price) is float
    assert type(f.lower) is float


def test_metadata_is_carried_and_never_interpreted() -> None:
    alert = Alert(id="m", symbol="BTC", condition="above", threshold=1, metadata={"team": "desk-2", "tags": [1]})
    assert Alert.from_dict(alert.to_dict()) == alert
    assert Alert.from_dict({**alert.to_dict(), "metadata": '{"team": "desk-2", "tags": [1]}'}) == alert
    assert hash(alert) == hash(Alert(id="m", symbol="BTC", condition="above", threshold=1))
    fired = AlertIndex([alert]).match(Tick("BTC", 2, 1))
    assert [f.alert_id for f in fired] == ["m"]
    with pytest.raises(ValidationError) as err:
        Alert(id="m", symbol="BTC", condition="above", threshold=1, metadata="[1, 2]")
    assert err.value.field == "metadata"


def test_alert_round_trips_through_dict() -> None:
    alert = Alert(
        id="a", symbol="BTC", condition="moves_down_pct", pct="2.5", window_s=60,
        trigger="rearm", cooldown_s=30, expires_at=2e9, owner="o", channel="c", note="n",
    )  # fmt: skip
    assert Alert.from_dict(alert.to_dict()) == alert
    with pytest.raises(ValidationError, match="colour"):
        Alert.from_dict({**alert.to_dict(), "colour": "red"})


# -- the core stays light -----------------------------------------------------------
def test_importing_the_core_loads_no_aws_or_asyncio() -> None:
    code = (
        "import sys, cryptoalerts;"
        "from cryptoalerts import Alert, AlertIndex, Tick;"
        "AlertIndex([Alert(id='a', symbol='S', condition='above', threshold=1)]).match(Tick('S', 2, 1));"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('botocore', 'aiobotocore', 'aiohttp', 'rich')];"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_rearm_log_lists_the_alerts_matching_rearms_without_a_fire() -> None:
    """The engine persists these: a re-arm changes an alert's state but makes no ``Fired``."""
    index = AlertIndex([
        Alert(id="lvl", symbol="S", condition="above", threshold=100, trigger="rearm"),
        Alert(id="pct", symbol="S", condition="moves_up_pct", pct=10, window_s=10, trigger="rearm"),
    ])  # fmt: skip
    index.match(Tick("S", 95, 0))  # not logged while the log is None
    index.rearm_log = []
    assert [f.alert_id for f in index.match(Tick("S", 105, 1))] == ["lvl", "pct"]  # both fire and disarm
    assert index.rearm_log == []
    assert index.match(Tick("S", 106, 2)) == []  # both conditions still hold: nothing re-arms
    assert index.rearm_log == []
    assert index.match(Tick("S", 104, 12)) == []  # 95 left the window: min 104, and 104 < 1.1 x 104
    assert index.rearm_log == ["pct"]
    assert index.match(Tick("S", 99, 13)) == []  # under 100 again
    assert index.rearm_log == ["pct", "lvl"]
    assert index.alert_state("pct").armed
    assert index.alert_state("lvl").armed
