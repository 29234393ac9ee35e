"""A brute-force index that applies the semantics table literally, O(n) per tick.

It is the oracle the fast :class:`~cryptoalerts.AlertIndex` is tested against and
the "loop over the symbol's alerts" baseline in the benchmarks. It shares the
index's public API so tests and benchmarks can swap one for the other. It is kept
deliberately naive: every rule below is one line of the README's table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from cryptoalerts.errors import AlertNotFoundError, DuplicateAlertError, ValidationError
from cryptoalerts.model import (
    LEVEL_CONDITIONS,
    Alert,
    Condition,
    Fired,
    Tick,
    Trigger,
    fired_from,
)
from cryptoalerts.state import AlertState, IndexState, SymbolState, TickCounts

__all__ = ["ReferenceIndex", "condition_holds"]

DEFAULT_HISTORY_S = 3600.0


def _dec(x: float) -> Decimal:
    return Decimal(repr(x))


def condition_holds(alert: Alert, prev: float | None, price: float, lo: float, hi: float) -> bool:
    """Whether ``alert``'s condition holds moving from ``prev`` to ``price``.

    ``lo``/``hi`` are the minimum and maximum accepted price in the alert's window
    (only read by the percentage conditions).
    """
    c = alert.condition
    if c is Condition.ABOVE:
        return price >= alert.threshold  # type: ignore[operator]
    if c is Condition.BELOW:
        return price <= alert.threshold  # type: ignore[operator]
    if c is Condition.MOVES_UP_PCT:  # exact decimal arithmetic, as the model module defines
        return _dec(price) * 100 >= (100 + _dec(alert.pct)) * _dec(lo)  # type: ignore[arg-type]
    if c is Condition.MOVES_DOWN_PCT:
        return _dec(price) * 100 <= (100 - _dec(alert.pct)) * _dec(hi)  # type: ignore[arg-type]
    if prev is None:
        return False
    t = alert.threshold
    if c is Condition.CROSSES_UP:
        return prev < t <= price  # type: ignore[operator]
    if c is Condition.CROSSES_DOWN:
        return prev > t >= price  # type: ignore[operator]
    if c is Condition.CROSSES:
        return prev < t <= price or prev > t >= price  # type: ignore[operator]
    lower, upper = alert.lower, alert.upper
    was_in = lower <= prev <= upper  # type: ignore[operator]
    is_in = lower <= price <= upper  # type: ignore[operator]
    if c is Condition.ENTERS_CHANNEL:
        return not was_in and is_in
    return was_in and not is_in  # EXITS_CHANNEL


class ReferenceIndex:
    """Brute-force twin of :class:`cryptoalerts.AlertIndex` (same API, O(n) per tick)."""

    def __init__(self, alerts: Iterable[Alert] = (), *, history_s: float = DEFAULT_HISTORY_S) -> None:
        self.history_s = history_s
        self._alerts: dict[str, Alert] = {}
        self._states: dict[str, AlertState] = {}
        self._symbols: dict[str, SymbolState] = {}
        self._history: dict[str, list[tuple[float, float]]] = {}
        self.counts = TickCounts()
        for alert in alerts:
            self.add(alert)

    # -- alerts ---------------------------------------------------------------
    @classmethod
    def from_alerts(cls, alerts: Iterable[Alert], *, history_s: float = DEFAULT_HISTORY_S) -> ReferenceIndex:
        return cls(alerts, history_s=history_s)

    def add(self, alert: Alert, state: AlertState | None = None) -> None:
        if alert.id in self._alerts:
            raise DuplicateAlertError(alert.id)
        if alert.window_s is not None and alert.window_s > self.history_s:
            raise ValidationError("window_s", alert.window_s, f"exceeds the index's history_s={self.history_s}")
        if state is not None and alert.trigger is Trigger.ONCE and state.last_fire_ts is not None:
            return  # a once alert that already fired never comes back
        self._alerts[alert.id] = alert
        st = state or AlertState()
        if alert.condition not in LEVEL_CONDITIONS and not st.armed:
            st = AlertState(True, st.last_fire_ts, st.seq)  # event conditions never disarm
        self._states[alert.id] = st

    def add_many(self, alerts: Iterable[Alert]) -> None:
        for alert in alerts:
            self.add(alert)

    def remove(self, alert_id: str) -> Alert:
        if alert_id not in self._alerts:
            raise AlertNotFoundError(alert_id)
        del self._states[alert_id]
        return self._alerts.pop(alert_id)

    def discard(self, alert_id: str) -> None:
        if alert_id in self._alerts:
            self.remove(alert_id)

    def get(self, alert_id: str) -> Alert | None:
        return self._alerts.get(alert_id)

    def alert_state(self, alert_id: str) -> AlertState:
        if alert_id not in self._states:
            raise AlertNotFoundError(alert_id)
        return self._states[alert_id]

    def __len__(self) -> int:
        return len(self._alerts)

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._alerts

    def alerts(self, symbol: str | None = None) -> list[Alert]:
        return [a for a in self._alerts.values() if symbol is None or a.symbol == symbol]

    def purge_expired(self, now: float) -> int:
        gone = [a.id for a in self._alerts.values() if a.expires_at is not None and a.expires_at <= now]
        for alert_id in gone:
            self.remove(alert_id)
        return len(gone)

    # -- matching -------------------------------------------------------------
    def match(self, tick: Tick) -> list[Fired]:
        return self._match(tick.symbol, tick.price, tick.ts)

    def match_batch(
        self, symbols: Sequence[str] | str, prices: Sequence[float] | Any, timestamps: Sequence[float] | Any
    ) -> list[Fired]:
        n = len(prices)
        syms = [symbols] * n if isinstance(symbols, str) else list(symbols)
        out: list[Fired] = []
        for i in range(n):
            out.extend(self._match(syms[i], float(prices[i]), float(timestamps[i])))
        return out

    def _match(self, symbol: str, price: float, ts: float) -> list[Fired]:
        st = self._symbols.get(symbol)
        if st is not None:
            if ts < st.last_ts:
                self.counts.stale += 1
                return []
            if ts == st.last_ts and price == st.last_price:
                self.counts.duplicate += 1
                return []
        self.counts.accepted += 1
        prev = None if st is None else st.last_price
        hist = self._history.setdefault(symbol, [])
        hist.append((ts, price))
        fires: list[Fired] = []
        for alert in list(self._alerts.values()):
            if alert.symbol != symbol:
                continue
            if alert.expires_at is not None and ts >= alert.expires_at:
                continue
            lo = hi = price
            if alert.window_s is not None:
                start = ts - alert.window_s
                window = [p for (t, p) in hist if start <= t <= ts]
                lo, hi = min(window), max(window)
            holds = condition_holds(alert, prev, price, lo, hi)
            s = self._states[alert.id]
            if not s.armed:
                if not holds:  # only level conditions are ever disarmed
                    self._states[alert.id] = AlertState(True, s.last_fire_ts, s.seq)
                continue
            if not holds:
                continue
            if s.last_fire_ts is not None and ts < s.last_fire_ts + alert.cooldown_s:
                continue
            fires.append(fired_from(alert, price, prev, ts, s.seq + 1))
            if alert.trigger is Trigger.ONCE:
                self.remove(alert.id)
            else:
                self._states[alert.id] = AlertState(alert.condition not in LEVEL_CONDITIONS, ts, s.seq + 1)
        self._symbols[symbol] = SymbolState(price, ts)
        fires.sort(key=lambda f: f.alert_id)
        cutoff = ts - self.history_s
        while hist and hist[0][0] < cutoff:
            hist.pop(0)
        return fires

    # -- state ----------------------------------------------------------------
    def export_state(self, symbols: Iterable[str] | None = None, *, alerts: bool = True) -> IndexState:
        wanted = None if symbols is None else set(symbols)
        sym_states = {
            sym: SymbolState(
                st.last_price,
                st.last_ts,
                tuple(t for t, _ in self._history.get(sym, ())),
                tuple(p for _, p in self._history.get(sym, ())),
            )
            for sym, st in self._symbols.items()
            if wanted is None or sym in wanted
        }
        alert_states = {
            k: v for k, v in self._states.items() if alerts and (wanted is None or self._alerts[k].symbol in wanted)
        }
        return IndexState(sym_states, alert_states)

    def restore_state(self, state: IndexState) -> None:
        for sym, st in state.symbols.items():
            self._symbols[sym] = SymbolState(st.last_price, st.last_ts)
            self._history[sym] = list(zip(st.history_ts, st.history_price, strict=True))
        for alert_id, ast in state.alerts.items():
            alert = self._alerts.get(alert_id)
            if alert is None:
                continue
            if alert.trigger is Trigger.ONCE:
                if ast.last_fire_ts is not None:
                    self.remove(alert_id)
                else:
                    self._states[alert_id] = AlertState(True, None, ast.seq)
                continue
            if alert.condition not in LEVEL_CONDITIONS and not ast.armed:
                ast = AlertState(True, ast.last_fire_ts, ast.seq)  # event conditions never disarm
            self._states[alert_id] = ast
