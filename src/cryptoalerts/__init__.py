"""cryptoalerts: match crypto price ticks against very many price alerts, fast.

The public API is what this module exports; everything else is internal.
``import cryptoalerts`` loads numpy only (cold-start time in
Lambda): the stores, the AWS code and the CLI are imported on first use.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from typing import TYPE_CHECKING, Any

from cryptoalerts import index as _index
from cryptoalerts.errors import (
    AlertNotFoundError,
    ConflictError,
    CryptoAlertsError,
    DuplicateAlertError,
    NotificationsPendingError,
    StoreError,
    StoreNotInitializedError,
    ValidationError,
)
from cryptoalerts.index import AlertIndex
from cryptoalerts.model import Alert, Condition, Fired, Tick, Trigger
from cryptoalerts.reference import ReferenceIndex
from cryptoalerts.state import AlertState, IndexState, SymbolState, TickCounts

if TYPE_CHECKING:
    from cryptoalerts.engine import AlertEngine
    from cryptoalerts.stores import AlertStore, open_store

__all__ = [
    "COMPILED",
    "Alert",
    "AlertEngine",
    "AlertIndex",
    "AlertNotFoundError",
    "AlertState",
    "AlertStore",
    "Condition",
    "ConflictError",
    "CryptoAlertsError",
    "DuplicateAlertError",
    "Fired",
    "IndexState",
    "NotificationsPendingError",
    "ReferenceIndex",
    "StoreError",
    "StoreNotInitializedError",
    "SymbolState",
    "Tick",
    "TickCounts",
    "Trigger",
    "ValidationError",
    "open_store",
]

__version__ = "0.1.0"

#: True when the matching core (``index``, ``_book``, ``_bulk``) runs as native code
#: compiled by mypyc (a ``CRYPTOALERTS_COMPILE=1`` build); False for the pure-Python
#: build. Both behave identically; benchmarks print it beside their figures.
COMPILED: bool = (_index.__file__ or "").endswith(tuple(EXTENSION_SUFFIXES))

_LAZY = {
    "AlertEngine": "cryptoalerts.engine",
    "AlertStore": "cryptoalerts.stores",
    "open_store": "cryptoalerts.stores",
}


def __getattr__(name: str) -> Any:
    """Import the engine and stores on first use, keeping ``import cryptoalerts`` cheap."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cryptoalerts' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
