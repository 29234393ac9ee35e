"""An in-process store: the contract's reference implementation, for tests and embedding.

Nothing is persisted. Every method yields to the event loop once before it acts,
as a networked store would, so tests with several engines on one ``MemoryStore``
really interleave their reads and commits; the action itself then runs without
a suspension point, which is what makes each method atomic.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptoalerts.errors import StoreNotInitializedError
from cryptoalerts.model import Alert, Fired
from cryptoalerts.state import AlertState, IndexState, SymbolState
from cryptoalerts.stores._common import claim_cutoff, fire_order, is_live, not_initialized, parse_watermark
from cryptoalerts.stores.base import (
    AlertStore,
    ChangeSet,
    CommitResult,
    Snapshot,
    StoredAlert,
    SymbolRecord,
)

__all__ = ["MemoryStore"]


@dataclass(slots=True)
class _Row:
    alert: Alert
    state: AlertState
    change: int


class MemoryStore(AlertStore):
    """Dict-backed :class:`AlertStore`; ``memory://`` in :func:`open_store`.

    Complexities: point operations O(1), listings O(n), ``changes_since`` O(n).
    """

    def __init__(self) -> None:
        self._initialized = False
        self._alerts: dict[str, _Row] = {}
        self._tombstones: dict[str, int] = {}
        self._change = 0
        self._symbols: dict[str, SymbolRecord] = {}
        self._fires: dict[tuple[str, int], Fired] = {}
        self._max_seq: dict[str, int] = {}
        self._claimed_at: dict[tuple[str, int], float] = {}
        self._confirmed: set[tuple[str, int]] = set()

    def __repr__(self) -> str:
        return f"MemoryStore(alerts={len(self._alerts)}, fires={len(self._fires)})"

    async def _ready(self) -> None:
        await asyncio.sleep(0)
        if not self._initialized:
            raise StoreNotInitializedError(not_initialized("this memory store"))

    async def init(self) -> None:
        self._initialized = True

    # -- alert definitions ------------------------------------------------------
    def _put(self, alert: Alert) -> None:
        self._change += 1
        row = self._alerts.get(alert.id)
        if row is None:
            # A re-created id continues after its last recorded fire, so (id, seq) stays unique.
            state = AlertState(seq=self._max_seq.get(alert.id, 0))
            self._alerts[alert.id] = _Row(alert, state, self._change)
        else:
            row.alert = alert
            row.change = self._change
        self._tombstones.pop(alert.id, None)

    async def put_alert(self, alert: Alert) -> None:
        await self._ready()
        self._put(alert)

    async def put_alerts(self, alerts: Iterable[Alert]) -> int:
        await self._ready()
        batch = list(alerts)
        for alert in batch:
            self._put(alert)
        return len(batch)

    async def delete_alert(self, alert_id: str) -> bool:
        await self._ready()
        if self._alerts.pop(alert_id, None) is None:
            return False
        self._change += 1
        self._tombstones[alert_id] = self._change
        return True

    async def get_alert(self, alert_id: str) -> StoredAlert | None:
        await self._ready()
        row = self._alerts.get(alert_id)
        return None if row is None else StoredAlert(row.alert, row.state)

    async def list_alerts(self, *, symbol: str | None = None, owner: str | None = None) -> list[StoredAlert]:
        await self._ready()
        return [
            StoredAlert(r.alert, r.state)
            for r in self._alerts.values()
            if (symbol is None or r.alert.symbol == symbol) and (owner is None or r.alert.owner == owner)
        ]

    async def load(self, now: float | None = None) -> Snapshot:
        await self._ready()
        now = time.time() if now is None else now
        live = [r for r in self._alerts.values() if is_live(r.alert, r.state, now)]
        state = IndexState(
            {s: r.state for s, r in self._symbols.items() if r.state is not None},
            {r.alert.id: r.state for r in live},
        )
        versions = {s: r.version for s, r in self._symbols.items()}
        return Snapshot([r.alert for r in live], state, versions, str(self._change))

    async def changes_since(self, watermark: str) -> ChangeSet:
        await self._ready()
        since = parse_watermark(watermark)
        return ChangeSet(
            [r.alert for r in self._alerts.values() if r.change > since],
            [a for a, change in self._tombstones.items() if change > since],
            str(self._change),
        )

    # -- symbol state and firing --------------------------------------------------
    async def get_symbol(self, symbol: str) -> SymbolRecord:
        await self._ready()
        return self._symbols.get(symbol) or SymbolRecord(symbol, 0, None)

    async def get_alert_states(self, symbol: str) -> dict[str, AlertState]:
        await self._ready()
        return {a: r.state for a, r in self._alerts.items() if r.alert.symbol == symbol}

    async def commit(
        self,
        symbol: str,
        expected_version: int,
        new_state: SymbolState,
        fires: Sequence[Fired],
        alert_states: dict[str, AlertState],
    ) -> CommitResult:
        await self._ready()
        current = self._symbols.get(symbol) or SymbolRecord(symbol, 0, None)
        if current.version != expected_version:
            return CommitResult(False, current)
        record = SymbolRecord(symbol, expected_version + 1, new_state)
        self._symbols[symbol] = record
        for fire in fires:
            self._fires.setdefault(fire.key, fire)
            if fire.seq > self._max_seq.get(fire.alert_id, 0):
                self._max_seq[fire.alert_id] = fire.seq
        for alert_id, state in alert_states.items():
            row = self._alerts.get(alert_id)
            if row is not None:  # deleted meanwhile: its fire records stay, its state goes
                row.state = state
        return CommitResult(True, record)

    async def list_fires(
        self,
        *,
        alert_id: str | None = None,
        symbol: str | None = None,
        ts_from: float | None = None,
        ts_to: float | None = None,
    ) -> list[Fired]:
        await self._ready()
        out = [
            f
            for f in self._fires.values()
            if (alert_id is None or f.alert_id == alert_id)
            and (symbol is None or f.symbol == symbol)
            and (ts_from is None or f.ts >= ts_from)
            and (ts_to is None or f.ts <= ts_to)
        ]
        out.sort(key=fire_order)
        return out

    async def get_fire(self, alert_id: str, seq: int) -> Fired | None:
        await self._ready()
        return self._fires.get((alert_id, seq))

    async def claim_notification(self, alert_id: str, seq: int, *, now: float, lease_s: float) -> bool:
        cutoff = claim_cutoff(now, lease_s)
        await self._ready()
        key = (alert_id, seq)
        if key in self._confirmed:
            return False
        claimed_at = self._claimed_at.get(key)
        if claimed_at is not None and claimed_at >= cutoff:
            return False
        self._claimed_at[key] = now
        return True

    async def confirm_notification(self, alert_id: str, seq: int) -> None:
        await self._ready()
        self._confirmed.add((alert_id, seq))

    async def notification_confirmed(self, alert_id: str, seq: int) -> bool:
        await self._ready()
        return (alert_id, seq) in self._confirmed
