"""
Conversion insights: hourly counters of verifications started, codes sent, approvals and failed
sends, by client, channel, country and prefix, with a record of each send (an attempt); read back
as breakdowns, summaries and attempt listings. Counted from the engine's events.
"""

from __future__ import annotations

from otp_service.insights.models import (
    Attempt,
    AttemptFilter,
    Dimension,
    Page,
    Row,
    Tally,
)
from otp_service.insights.recorder import InsightsRecorder, Retention
from otp_service.insights.service import Insights
from otp_service.insights.store import InsightsStore

__all__ = [
    "Attempt",
    "AttemptFilter",
    "Dimension",
    "Insights",
    "InsightsRecorder",
    "InsightsStore",
    "Page",
    "Retention",
    "Row",
    "Tally",
]
