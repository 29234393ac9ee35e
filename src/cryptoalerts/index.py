"""Per-symbol sorted index of alerts (placeholder: the fast implementation lands next)."""

from __future__ import annotations

from cryptoalerts.reference import ReferenceIndex

__all__ = ["AlertIndex"]


class AlertIndex(ReferenceIndex):
    """Temporary: same API and semantics as the reference; replaced by the sorted index."""

    @classmethod
    def from_alerts(cls, alerts, *, history_s: float = 3600.0):  # type: ignore[no-untyped-def]
        return cls(alerts, history_s=history_s)
