"""The store contract: what every store (memory, sqlite, DynamoDB) guarantees.

A store is the source of truth; an :class:`~cryptoalerts.AlertIndex` is a cache of
it that can be rebuilt from :meth:`AlertStore.load`.

Exactly-once firing rests on one mechanism, the **symbol commit**. Each symbol has
a record ``(version, SymbolState)``. An engine that matched some ticks of a symbol
starting from version ``v`` calls :meth:`AlertStore.commit` with
``expected_version=v``; the store advances the symbol to ``v + 1`` *and* records the
fires and the new alert states, all or nothing (a transaction, or a journal that
any reader completes: see :attr:`SymbolRecord.pending`). If another engine committed
first, the commit returns ``committed=False`` with the current record, and the
engine re-reads the symbol's alert states and matches again from there. Fires are
keyed by ``(alert_id, seq)`` and written idempotently, so a retry after a crash
records each missing fire once and duplicates none.

Notifications use a second mechanism, a **claim with a lease**. A notifier claims a
fire (:meth:`AlertStore.claim_notification`) before sending it and confirms it
(:meth:`AlertStore.confirm_notification`) after the send succeeded. A claim is
granted when the fire was never claimed, or was claimed but not confirmed and the
claim is older than the lease; so a notifier that crashed or failed to send
between claim and confirm never blocks the fire for good: whoever asks after the
lease sends it again. Result: no notification is lost; one is duplicated only if a
send succeeded and its confirm did not (consumers dedupe on ``(alert_id, seq)``).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from cryptoalerts.model import Alert, Fired
from cryptoalerts.state import AlertState, IndexState, SymbolState

__all__ = ["AlertStore", "ChangeSet", "CommitResult", "Snapshot", "StoredAlert", "SymbolRecord"]


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert with its firing state as the store holds it."""

    alert: Alert
    state: AlertState


@dataclass(frozen=True, slots=True)
class SymbolRecord:
    """A symbol's committed tick state. ``version`` 0 means no tick committed yet.

    ``pending`` lists fires a journaling store (DynamoDB) has promised but maybe not
    yet written; the store completes them before returning the record, so callers
    always see it empty.
    """

    symbol: str
    version: int
    state: SymbolState | None
    pending: tuple[Fired, ...] = ()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a cold start needs: live alerts, their states, symbol states, a watermark."""

    alerts: list[Alert]
    state: IndexState
    versions: dict[str, int]
    watermark: str


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Alert definitions upserted or deleted since a watermark, and the new watermark."""

    upserted: list[Alert] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    watermark: str = ""


@dataclass(frozen=True, slots=True)
class CommitResult:
    """``committed`` is False when another writer moved the symbol first; ``record`` is current."""

    committed: bool
    record: SymbolRecord


class AlertStore(abc.ABC):
    """Async store of alerts, their firing state, symbol tick state and fire records.

    Stores are async context managers (``async with open_store(url) as store``) and
    may be given an already-open client by their constructor.
    """

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:  # noqa: B027 - optional hook, most stores need nothing
        """Acquire connections. Idempotent."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. Idempotent."""

    @abc.abstractmethod
    async def init(self) -> None:
        """Create tables/schema if missing. Idempotent: running it twice is fine."""

    # -- alert definitions ------------------------------------------------------
    @abc.abstractmethod
    async def put_alert(self, alert: Alert) -> None:
        """Insert or replace an alert definition; an existing firing state is kept.

        Keeping ``seq`` across edits keeps ``(alert_id, seq)`` unique forever. For the
        same reason a *new* row for an id that has recorded fires (deleted, then
        re-created) starts at ``AlertState(armed=True, last_fire_ts=None,
        seq=<highest recorded seq>)``: otherwise its next fire would reuse a
        recorded key and be dropped as a duplicate.
        """

    @abc.abstractmethod
    async def put_alerts(self, alerts: Iterable[Alert]) -> int:
        """Bulk :meth:`put_alert`; returns how many were written. Idempotent."""

    @abc.abstractmethod
    async def delete_alert(self, alert_id: str) -> bool:
        """Delete an alert; True if it existed. Its fire records are kept."""

    @abc.abstractmethod
    async def get_alert(self, alert_id: str) -> StoredAlert | None:
        """The alert and its state, or None. Strongly consistent."""

    @abc.abstractmethod
    async def list_alerts(self, *, symbol: str | None = None, owner: str | None = None) -> list[StoredAlert]:
        """Every stored alert (including fired ``once`` and expired ones), filtered."""

    @abc.abstractmethod
    async def load(self, now: float | None = None) -> Snapshot:
        """Everything a cold start needs.

        Leaves out ``once`` alerts that already fired (``last_fire_ts`` is set; see
        :meth:`put_alert` for why ``seq`` alone is not the test) and alerts with
        ``expires_at <= now`` (TTL deletes late, so this filters on read);
        ``now=None`` means the current time.
        """

    @abc.abstractmethod
    async def changes_since(self, watermark: str) -> ChangeSet:
        """Definitions upserted or deleted after ``watermark`` (from :meth:`load` or here).

        At-least-once: a change may be reported again in a later call; applying it
        twice is harmless.
        """

    # -- symbol state and firing --------------------------------------------------
    @abc.abstractmethod
    async def get_symbol(self, symbol: str) -> SymbolRecord:
        """The symbol's committed record (version 0 and state None if never ticked)."""

    @abc.abstractmethod
    async def get_alert_states(self, symbol: str) -> dict[str, AlertState]:
        """Firing state of every alert of ``symbol``, consistent with its last commit.

        Includes finished alerts (fired ``once``, expired): the engine tells them apart.
        Engines commit every state change (a re-armed level alert too), so these
        states plus the symbol record reproduce the index exactly.
        """

    @abc.abstractmethod
    async def commit(
        self,
        symbol: str,
        expected_version: int,
        new_state: SymbolState,
        fires: Sequence[Fired],
        alert_states: dict[str, AlertState],
    ) -> CommitResult:
        """Advance ``symbol`` from ``expected_version`` and record ``fires``, all or nothing.

        Exactly once: a fire ``(alert_id, seq)`` is stored at most once whatever
        retries or races happen; a second write of the same key is a no-op.
        """

    @abc.abstractmethod
    async def list_fires(
        self,
        *,
        alert_id: str | None = None,
        symbol: str | None = None,
        ts_from: float | None = None,
        ts_to: float | None = None,
    ) -> list[Fired]:
        """Recorded fires, filtered (``ts_from <= ts <= ts_to``), ordered by ``(ts, alert_id, seq)``.

        An engine retrying a batch whose first attempt committed but crashed before
        handing its fires on uses the time range to find them again.
        """

    @abc.abstractmethod
    async def get_fire(self, alert_id: str, seq: int) -> Fired | None:
        """One recorded fire by its idempotency key, or None."""

    # -- notifications ---------------------------------------------------------------
    @abc.abstractmethod
    async def claim_notification(self, alert_id: str, seq: int, *, now: float, lease_s: float) -> bool:
        """Claim the right to notify fire ``(alert_id, seq)``; True if this caller got it.

        Granted (and the claim time set to ``now``) when the fire was never claimed,
        or was claimed at ``t`` but never confirmed and ``now - t > lease_s`` (the
        earlier claimant is presumed dead: choose ``lease_s`` longer than a
        notifier can run). Refused when it is confirmed, or claimed less than
        ``lease_s`` ago. One conditional write: of callers racing for the same
        fire, at most one gets True.

        Raises:
            ValidationError: ``lease_s`` is negative or not finite, or ``now`` is not finite.
        """

    @abc.abstractmethod
    async def confirm_notification(self, alert_id: str, seq: int) -> None:
        """Record that fire ``(alert_id, seq)`` was notified; no claim will be granted again.

        Idempotent; allowed without a claim (it then only blocks later claims).
        """

    @abc.abstractmethod
    async def notification_confirmed(self, alert_id: str, seq: int) -> bool:
        """Whether :meth:`confirm_notification` was called for the fire. Strongly consistent.

        Tells a refused claim apart: confirmed (done, a duplicate) or held by
        another notifier whose lease has not expired (retry later).
        """
