"""One exception tree for the whole library.

Every error the library raises on purpose is a :class:`CryptoAlertsError`. Where a
caller would naturally catch a builtin (``ValueError`` for bad input, ``KeyError``
for a missing id), the library's error subclasses that builtin too, so both
``except ValueError`` and ``except cryptoalerts.ValidationError`` work.
"""

from __future__ import annotations


class CryptoAlertsError(Exception):
    """Base class of every error raised by cryptoalerts on purpose."""


class ValidationError(CryptoAlertsError, ValueError):
    """A value failed validation; the message names the field and the bad value."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={value!r}: {reason}")


class AlertNotFoundError(CryptoAlertsError, KeyError):
    """No alert with that id is in the index or store."""

    def __init__(self, alert_id: str) -> None:
        self.alert_id = alert_id
        super().__init__(alert_id)

    def __str__(self) -> str:
        return f"no alert with id {self.alert_id!r}"


class DuplicateAlertError(CryptoAlertsError, ValueError):
    """An alert with that id is already in the index (use replace semantics explicitly)."""

    def __init__(self, alert_id: str) -> None:
        self.alert_id = alert_id
        super().__init__(f"an alert with id {alert_id!r} is already in the index")


class StoreError(CryptoAlertsError):
    """A store could not do what was asked (unreachable, throttled past retries, ...)."""


class StoreNotInitializedError(StoreError):
    """The store's tables or schema do not exist yet; run ``cryptoalerts init``."""


class ConflictError(StoreError):
    """A conditional write lost against another writer; re-read and retry."""


class NotificationsPendingError(CryptoAlertsError):
    """Some fires of a destination record were not notified yet; raised so Lambda retries it.

    ``failed`` publishes are retried once their claim's lease runs out; ``held`` fires
    are claimed by another invocation that may still be publishing them.
    """

    def __init__(self, failed: list[tuple[str, int]], held: list[tuple[str, int]]) -> None:
        self.failed = failed
        self.held = held
        super().__init__(
            f"{len(failed)} publish(es) failed {failed[:5]}, {len(held)} fire(s) claimed by another invocation "
            f"{held[:5]}; retry the record after the lease"
        )
