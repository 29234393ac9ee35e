"""Stores: the source of truth behind the in-memory index, opened by URL.

``memory://`` (nothing persisted), ``sqlite:///abs/path.db``,
``sqlite://relative.db``, ``sqlite://:memory:`` (the embedded default) and
``dynamodb://Table?region=..&endpoint_url=..`` (needs the ``aws`` extra; imported
only when asked for, so local use never loads botocore).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from cryptoalerts.errors import ValidationError
from cryptoalerts.stores.base import (
    AlertStore,
    ChangeSet,
    CommitResult,
    Snapshot,
    StoredAlert,
    SymbolRecord,
)
from cryptoalerts.stores.memory import MemoryStore
from cryptoalerts.stores.sqlite import SQLiteStore

__all__ = [
    "AlertStore",
    "ChangeSet",
    "CommitResult",
    "MemoryStore",
    "SQLiteStore",
    "Snapshot",
    "StoredAlert",
    "SymbolRecord",
    "open_store",
]

URL_FORMS = "memory://, sqlite:///abs/path.db, sqlite://relative.db, sqlite://:memory:, dynamodb://Table?region=.."


def open_store(url: str) -> AlertStore:
    """An unopened store for ``url``; use it as ``async with open_store(url) as store``.

    >>> open_store("sqlite://:memory:")
    SQLiteStore(':memory:')

    Raises:
        ValidationError: for an unknown scheme or a malformed URL (the message names it).
    """
    if not isinstance(url, str) or "://" not in url:
        raise ValidationError("store_url", url, f"is not a store URL (expected one of {URL_FORMS})")
    scheme, rest = url.split("://", 1)
    scheme = scheme.lower()
    if scheme == "memory":
        if rest not in ("", "/"):
            raise ValidationError("store_url", url, "memory:// takes no path")
        return MemoryStore()
    if scheme == "sqlite":
        path = rest.split("?", 1)[0]
        if not path or path == "/":
            raise ValidationError("store_url", url, "needs a database path, e.g. sqlite:///abs/path.db")
        # sqlite:///abs -> "/abs"; sqlite://rel.db -> "rel.db"; sqlite://:memory: -> ":memory:"
        return SQLiteStore(path)
    if scheme == "dynamodb":
        if not urlsplit(url).netloc:
            raise ValidationError("store_url", url, "needs a table name, e.g. dynamodb://Alerts?region=us-east-1")
        try:
            from cryptoalerts.aws.dynamodb import DynamoDBStore  # type: ignore[import-not-found,unused-ignore]
        except ImportError as exc:
            raise ValidationError(
                "store_url", url, f"needs the DynamoDB store (pip install 'cryptoalerts[aws]'): {exc}"
            ) from exc
        store: AlertStore = DynamoDBStore.from_url(url)
        return store
    raise ValidationError("store_url", url, f"unknown store scheme {scheme!r} (expected one of {URL_FORMS})")
