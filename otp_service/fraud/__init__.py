"""
The SMS pumping guard: counts of sends and approvals per country and E.164 prefix, and blocks
of the prefixes whose codes go unused.
"""

from __future__ import annotations

from otp_service.fraud.guard import FraudGuard, thresholds_of
from otp_service.fraud.models import Block, Decision, Figures, FraudMode, Thresholds
from otp_service.fraud.prefixes import NumberPrefixes, calling_code_of, number_prefixes
from otp_service.fraud.store import FraudCall, FraudStore, fraud_admit_lua

__all__ = [
    "Block",
    "Decision",
    "Figures",
    "FraudCall",
    "FraudGuard",
    "FraudMode",
    "FraudStore",
    "NumberPrefixes",
    "Thresholds",
    "calling_code_of",
    "fraud_admit_lua",
    "number_prefixes",
    "thresholds_of",
]
