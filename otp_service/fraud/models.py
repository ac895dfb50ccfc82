"""
The pumping guard's values: its mode, the thresholds of a client's policy, its decisions and the
blocks it keeps.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

#: Standard deviations of slack above the expected unverified sends (see docs/fraud.md).
SLACK_DEVIATIONS: Final = 2.5
#: The conversion expected where nothing has been learnt yet, and how many sends of history it
#: weighs as (a prefix with that many sends of history counts half its own, half the prior).
PRIOR_CONVERSION: Final = 0.8
PRIOR_WEIGHT: Final = 100
#: How long a prefix's counts are kept after its last send or approval.
KEEP_COUNTS_MS: Final = 3 * 86_400_000
#: How long a number that used a code passes the blocks of its range.
TRUST_MS: Final = 30 * 86_400_000


class FraudMode(enum.StrEnum):
    """``off``: nothing counted; ``monitor``: decisions logged, none enforced; ``block``."""

    OFF = "off"
    MONITOR = "monitor"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a prefix is blocked, and for how long (a client's policy sets the first three)."""

    allowance: int = 15
    ratio: float = 0.5
    block_seconds: int = 43_200
    deviations: float = SLACK_DEVIATIONS
    prior: float = PRIOR_CONVERSION
    prior_weight: int = PRIOR_WEIGHT


@dataclass(frozen=True, slots=True)
class Figures:
    """
    Why a prefix was blocked: over ``window`` (``1h`` or ``24h``), ``sends`` old enough to have
    been checked, ``approvals``, the ``expected`` conversion, the ``excess`` of unverified sends
    over what that predicts, and the ``threshold`` the excess passed (decayed counts).
    """

    window: str
    sends: float
    approvals: float
    expected: float
    excess: float
    threshold: float

    def rounded(self) -> dict[str, str | float]:
        """The figures as shown to people (counts to a tenth, the conversion to 3 places)."""
        return {
            "window": self.window,
            "sends": round(self.sends, 1),
            "approvals": round(self.approvals, 1),
            "expected_conversion": round(self.expected, 3),
            "excess": round(self.excess, 1),
            "threshold": round(self.threshold, 1),
        }


@dataclass(frozen=True, slots=True)
class Decision:
    """
    The guard's answer on one send: ``allowed``, ``refused`` (an enforced block covers it),
    ``blocked`` (this send made a block: refused) or ``monitored`` (it would have).
    """

    outcome: str
    prefix: str = ""
    until_ms: int = 0
    figures: Figures | None = None


ALLOWED: Final = Decision("allowed")


@dataclass(frozen=True, slots=True)
class Block:
    """An active block of ``prefix`` (a country or an E.164 prefix), as the admin API lists it."""

    prefix: str
    country: str
    mode: str
    since_ms: int
    until_ms: int
    figures: Figures
