"""
Value objects of conversion insights: what is counted, the tallies, and one attempt (a send).

Plain Python only. Figures are hourly: an hour is named by its number since the epoch.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

HOUR_MS: Final = 3_600_000
DAY_MS: Final = 24 * HOUR_MS


class Metric(enum.StrEnum):
    """What is counted: verifications started, codes sent, verifications approved, sends failed."""

    STARTED = "started"
    SENT = "sent"
    APPROVED = "approved"
    FAILED = "failed"


_METRICS: Final = frozenset(metric.value for metric in Metric)


class Dimension(enum.StrEnum):
    """What figures are broken down by."""

    COUNTRY = "country"
    CHANNEL = "channel"
    PREFIX = "prefix"


def hour_of(ms: int) -> int:
    """The hour (since the epoch) that ``ms`` falls in."""
    return ms // HOUR_MS


def hour_name(hour: int) -> str:
    """An hour as key names spell it: ``2027011508`` (UTC)."""
    return datetime.fromtimestamp(hour * 3600, UTC).strftime("%Y%m%d%H")


def hours_overlapping(from_ms: int, to_ms: int) -> range:
    """The hours that overlap ``[from_ms, to_ms)``, oldest first."""
    return range(hour_of(from_ms), hour_of(to_ms - 1) + 1)


@dataclass(frozen=True, slots=True)
class Counter:
    """
    One counter of one hour: a metric of sends on one channel to one country and prefix (both
    empty for email). Every breakdown and filter is a sum over these.
    """

    metric: Metric
    channel: str
    country: str = ""
    prefix: str = ""

    @property
    def field(self) -> str:
        """Its field in the hour's hash."""
        return f"{self.metric.value}|{self.channel}|{self.country}|{self.prefix}"

    @classmethod
    def of_field(cls, field: str) -> Counter | None:
        """The counter a hash field names; None for a field of another shape."""
        parts = field.split("|")
        if len(parts) != 4 or parts[0] not in _METRICS:
            return None
        return cls(Metric(parts[0]), parts[1], parts[2], parts[3])

    def key(self, dimension: Dimension) -> str:
        """Its value of ``dimension`` (``""``: none, an email's country)."""
        return {"country": self.country, "channel": self.channel, "prefix": self.prefix}[dimension]


@dataclass(slots=True)
class Tally:
    """Started, sent, approved and failed, summed; conversion is approved per code sent."""

    started: int = 0
    sent: int = 0
    approved: int = 0
    failed: int = 0

    def add(self, metric: Metric, count: int) -> None:
        """Add ``count`` to ``metric``."""
        setattr(self, metric.value, getattr(self, metric.value) + count)

    @property
    def conversion(self) -> float | None:
        """Approved verifications per code sent; None when nothing was sent."""
        return self.approved / self.sent if self.sent else None


@dataclass(frozen=True, slots=True)
class Row:
    """The tally of one key of a breakdown (``""``: no country or prefix: email)."""

    key: str
    tally: Tally


def attempt_id(verification_id: str, send: int, sent_ms: int) -> str:
    """
    The id of one send: 32 hex digits, the hour of the send first (so that the hour's records can
    be found from the id), then the send's number and 88 bits of the verification's id.
    """
    return f"{hour_of(sent_ms):08x}{send:02x}{verification_id.removeprefix('vf_')[:22]}"


def hour_of_attempt(attempt_id: str) -> int:
    """The hour an attempt id was made in (see ``attempt_id``)."""
    return int(attempt_id[:8], 16)


@dataclass(frozen=True, slots=True)
class Attempt:
    """
    One send of a code (Twilio's verification attempt). ``to`` is masked; ``to_digest`` is the
    keyed hash destinations are known by, so a filter can match without the number being kept.
    """

    id: str
    client: str
    verification_id: str
    send: int
    channel: str
    created_ms: int
    to: str
    to_digest: str = ""
    country: str = ""
    prefix: str = ""
    converted_ms: int = 0

    @property
    def is_converted(self) -> bool:
        """Whether the code of this send approved its verification."""
        return self.converted_ms > 0


@dataclass(frozen=True, slots=True)
class AttemptFilter:
    """Which attempts a listing wants: created in ``[after_ms, before_ms)``, and the rest."""

    after_ms: int
    before_ms: int
    channel: str | None = None
    country: str | None = None
    verification_id: str | None = None
    to_digest: str | None = None
    is_converted: bool | None = None

    def matches(self, attempt: Attempt) -> bool:
        """Whether ``attempt`` is one of them."""
        wanted = (
            (self.channel, attempt.channel),
            (self.country, attempt.country),
            (self.verification_id, attempt.verification_id),
            (self.to_digest, attempt.to_digest),
            (self.is_converted, attempt.is_converted),
        )
        in_time = self.after_ms <= attempt.created_ms < self.before_ms
        return in_time and all(want is None or want == have for want, have in wanted)


@dataclass(frozen=True, slots=True)
class Page:
    """A page of attempts, newest first, and the cursor of the next one (None: the last page)."""

    attempts: Sequence[Attempt]
    next_cursor: str | None
