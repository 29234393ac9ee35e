"""Sample data shipped with the package (used by ``cryptoalerts demo``); see :mod:`.sample`."""

from __future__ import annotations

from cryptoalerts.data.sample import SampleTicks, load_market, sample_alerts, sample_ticks

__all__ = ["SampleTicks", "load_market", "sample_alerts", "sample_ticks"]
