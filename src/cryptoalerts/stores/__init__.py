"""Stores: the source of truth behind the in-memory index (placeholder; see issue 3)."""

from __future__ import annotations

from cryptoalerts.stores.base import AlertStore

__all__ = ["AlertStore"]
