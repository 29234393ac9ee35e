"""The fast index against the brute-force model, step by step (Hypothesis stateful).

Prices come from a small grid so ties, equal thresholds and channel edges happen
all the time; timestamps go backwards and repeat so stale and duplicate ticks do
too. After every step: identical fires, identical alert states, ``_check()``.
A twin fast index gets every tick through ``match`` while the main one gets
batches through ``match_batch``: their fires must agree in order, not just as sets.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, invariant, precondition, rule

import cryptoalerts._book
import cryptoalerts.index
from cryptoalerts import Alert, AlertIndex, AlertState, Fired, ReferenceIndex, Tick

HISTORY_S = 8.0
SYMBOLS = ("A", "B")
PRICES = st.sampled_from([0.5 * k for k in range(1, 13)])  # 0.5 .. 6.0
THRESHOLDS = st.sampled_from([0.5 * k for k in range(1, 13)])
PCTS = st.sampled_from([10.0, 25.0, 50.0, 100.0])
WINDOWS = st.sampled_from([1.0, 2.0, 5.0, HISTORY_S])


@st.composite
def alerts(draw: Any, alert_id: str) -> Alert:
    condition = draw(
        st.sampled_from(
            ["above", "below", "crosses_up", "crosses_down", "crosses", "enters_channel",
             "exits_channel", "moves_up_pct", "moves_down_pct"]
        )
    )  # fmt: skip
    params: dict[str, Any] = {}
    if condition in ("enters_channel", "exits_channel"):
        lower = draw(THRESHOLDS)
        upper = draw(THRESHOLDS.filter(lambda u: u > lower))
        params = {"lower": lower, "upper": upper}
    elif condition in ("moves_up_pct", "moves_down_pct"):
        params = {"pct": draw(PCTS), "window_s": draw(WINDOWS)}
    else:
        params = {"threshold": draw(THRESHOLDS)}
    return Alert(
        id=alert_id,
        symbol=draw(st.sampled_from(SYMBOLS)),
        condition=condition,
        trigger=draw(st.sampled_from(["once", "rearm"])),
        cooldown_s=draw(st.sampled_from([0.0, 0.0, 1.0, 2.5])),
        expires_at=draw(st.one_of(st.none(), st.sampled_from([3.0, 6.0, 12.0]))),
        **params,
    )


def _trace(*what: Any) -> None:
    """Print each step compactly when STATEFUL_TRACE is set (for debugging a failure)."""
    if os.environ.get("STATEFUL_TRACE"):
        print(*what)


def keyed(fires: list[Fired]) -> list[tuple[Any, ...]]:
    return sorted((f.alert_id, f.seq, f.price, f.prev, f.ts, f.symbol) for f in fires)


class IndexVersusModel(RuleBasedStateMachine):
    ids = Bundle("ids")

    def __init__(self) -> None:
        super().__init__()
        # Chunks of two keys, so that the few keys a small price range makes still
        # split, empty and merge chunks all the time.
        self._load = cryptoalerts._book._LOAD
        cryptoalerts._book._LOAD = 2
        # Likewise history blocks of two ticks, so window extremes use block summaries.
        self._block = cryptoalerts.index._BLOCK
        cryptoalerts.index._BLOCK = 2
        # And trimming whenever the history grows by a few ticks (cutting into blocks).
        self._slack = cryptoalerts.index._TRIM_SLACK
        cryptoalerts.index._TRIM_SLACK = 3
        self.fast = self._forced(AlertIndex(history_s=HISTORY_S))
        self.twin = AlertIndex(history_s=HISTORY_S)
        self.model = ReferenceIndex(history_s=HISTORY_S)
        self.counter = 0
        self.clock = dict.fromkeys(SYMBOLS, 0.0)

    @staticmethod
    def _forced(index: AlertIndex) -> AlertIndex:
        """Make tiny batches take the vectorised path and switch phases often."""
        index._min_vector_run = 1
        index._quiet_run = 1
        index._min_mixed_run = 0
        return index

    def teardown(self) -> None:
        cryptoalerts._book._LOAD = self._load
        cryptoalerts.index._BLOCK = self._block
        cryptoalerts.index._TRIM_SLACK = self._slack

    def _all(self) -> tuple[Any, ...]:
        return (self.fast, self.twin, self.model)

    @rule(target=ids, data=st.data())
    def add(self, data: st.DataObject) -> str:
        self.counter += 1
        alert = data.draw(alerts(f"a{self.counter}"))
        _trace("add", alert.to_dict())
        for ix in self._all():
            ix.add(alert)
        return alert.id

    @rule(data=st.data(), n=st.integers(1, 6))
    def add_many(self, data: st.DataObject, n: int) -> None:
        batch = []
        for _ in range(n):
            self.counter += 1
            batch.append(data.draw(alerts(f"a{self.counter}")))
        _trace("add_many", [a.to_dict() for a in batch])
        for ix in self._all():
            ix.add_many(batch)

    @rule(alert_id=consumes(ids))
    def remove(self, alert_id: str) -> None:
        _trace("remove", alert_id)
        present = [alert_id in ix for ix in self._all()]
        assert present[0] == present[1]
        if alert_id in self.model:
            self.model.remove(alert_id)
        if present[0]:
            self.fast.remove(alert_id)
            self.twin.remove(alert_id)
        else:
            self._assert_lazily_expired(alert_id)

    @rule(alert_id=ids, bump=st.integers(0, 3))
    def recreate(self, alert_id: str, bump: int) -> None:
        """Delete an alert and add it back with the seq a store would carry over."""
        alert = self.model.get(alert_id)
        if alert is None or alert_id not in self.fast:
            return
        _trace("recreate", alert_id, bump)
        seq = self.model.alert_state(alert_id).seq + bump
        for ix in self._all():
            ix.remove(alert_id)
            ix.add(alert, AlertState(seq=seq))

    @rule(alert_id=ids)
    def discard(self, alert_id: str) -> None:
        _trace("discard", alert_id)
        for ix in self._all():
            ix.discard(alert_id)

    def _tick(self, data: st.DataObject) -> Tick:
        symbol = data.draw(st.sampled_from(SYMBOLS))
        step = data.draw(st.sampled_from([0.0, 0.0, 0.5, 1.0, 1.0, 2.0, -1.0]))
        ts = max(0.0, self.clock[symbol] + step)
        self.clock[symbol] = max(self.clock[symbol], ts)
        return Tick(symbol, data.draw(PRICES), ts)

    @rule(data=st.data())
    def match(self, data: st.DataObject) -> None:
        tick = self._tick(data)
        _trace("match", tick)
        got = self.fast.match(tick)
        assert got == self.twin.match(tick)
        assert got == self.model.match(tick)

    @rule(data=st.data(), n=st.integers(1, 12), one_symbol=st.booleans())
    def match_batch(self, data: st.DataObject, n: int, one_symbol: bool) -> None:
        ticks = [self._tick(data) for _ in range(n)]
        if one_symbol:
            ticks = [Tick(ticks[0].symbol, t.price, t.ts) for t in ticks]
            self.clock[ticks[0].symbol] = max(self.clock[ticks[0].symbol], *(t.ts for t in ticks))
        expected: list[Fired] = []
        for tick in ticks:
            expected.extend(self.twin.match(tick))
        symbols: Any = ticks[0].symbol if one_symbol else [t.symbol for t in ticks]
        _trace("batch", [(t.symbol, t.price, t.ts) for t in ticks])
        got = self.fast.match_batch(symbols, [t.price for t in ticks], [t.ts for t in ticks])
        assert got == expected, "match_batch must equal match tick by tick, in order"
        model: list[Fired] = []
        for tick in ticks:
            model.extend(self.model.match(tick))
        assert got == model

    @rule(now=st.sampled_from([0.0, 3.0, 6.0, 12.0, 100.0]))
    def purge(self, now: float) -> None:
        _trace("purge", now)
        self.fast.purge_expired(now)
        self.twin.purge_expired(now)
        self.model.purge_expired(now)

    @precondition(lambda self: len(self.model) > 0)
    @rule()
    def export_restore(self) -> None:
        """Rebuild the fast index from its alerts and exported state: it must go on identically."""
        _trace("export_restore")
        state = self.fast.export_state()
        rebuilt = AlertIndex.from_alerts(self.fast.alerts(), history_s=HISTORY_S)
        rebuilt.restore_state(state)
        rebuilt.counts = self.fast.counts
        self._forced(rebuilt)
        assert sorted(a.id for a in rebuilt.alerts()) == sorted(a.id for a in self.fast.alerts())
        self.fast = rebuilt

    def _assert_lazily_expired(self, alert_id: str) -> None:
        alert = self.model.get(alert_id)
        if alert is None:
            return
        assert alert.expires_at is not None, f"{alert_id} vanished from the fast index without expiring"
        assert self.clock[alert.symbol] >= alert.expires_at

    @invariant()
    def agree(self) -> None:
        self.fast._check()
        self.twin._check()
        assert self.fast.counts == self.model.counts
        fast_ids = {a.id for a in self.fast.alerts()}
        # Expired alerts leave lazily, so two indexes may drop one at different ticks
        # (a rebuilt index holds a cooling-down alert in its family, not parked).
        for alert_id in fast_ids ^ {a.id for a in self.twin.alerts()}:
            self._assert_lazily_expired(alert_id)
        assert len(self.fast) == len(fast_ids)
        for alert_id in fast_ids:
            assert alert_id in self.model, f"{alert_id} fired or removed in the model only"
            assert self.fast.alert_state(alert_id) == self.model.alert_state(alert_id), alert_id
        for alert in self.model.alerts():
            if alert.id not in fast_ids:
                self._assert_lazily_expired(alert.id)
        for symbol in SYMBOLS:
            assert sorted(a.id for a in self.fast.alerts(symbol)) == sorted(
                a.id for a in self.fast.alerts() if a.symbol == symbol
            )


IndexVersusModel.TestCase.settings = settings(
    max_examples=int(os.environ.get("STATEFUL_EXAMPLES", "300")),
    report_multiple_bugs=False,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestIndexVersusModel = IndexVersusModel.TestCase
