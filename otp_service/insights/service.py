"""
Insights: conversion figures read back, by country, channel or prefix, and attempts listed.

Figures are hourly: a window takes every hour that overlaps it, and nothing older than the
retention. Plain Python: it takes its store and clock as arguments.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Final

from otp_service.core.errors import FieldError, InvalidRequest
from otp_service.core.models import Clock
from otp_service.insights.models import (
    DAY_MS,
    HOUR_MS,
    Attempt,
    AttemptFilter,
    Counter,
    Dimension,
    Page,
    Row,
    Tally,
    hour_of,
    hours_overlapping,
)
from otp_service.insights.recorder import Retention
from otp_service.insights.store import InsightsStore

#: Hours of attempt records read in one round trip while a listing walks back in time.
HOURS_PER_READ: Final = 24
_CURSOR: Final = re.compile(r"([0-9]{1,15})-([0-9a-f]{32})")


class Insights:
    """Reads the figures and attempts of one or more clients."""

    def __init__(self, store: InsightsStore, clock: Clock, retention: Retention) -> None:
        self._store = store
        self._clock = clock
        self._retention = retention

    def now_ms(self) -> int:
        """The service clock."""
        return self._clock.now_ms()

    def conversion(
        self, clients: Sequence[str], by: Dimension, from_ms: int, to_ms: int
    ) -> list[Row]:
        """
        The tallies of ``clients`` in ``[from_ms, to_ms)`` broken down ``by`` a dimension, most
        codes sent first.

        Raises:
            StoreUnavailable: Redis failed.
        """
        tallies: dict[str, Tally] = defaultdict(Tally)
        for counter, count in self._counters(clients, from_ms, to_ms):
            tallies[counter.key(by)].add(counter.metric, count)
        rows = [Row(key, tally) for key, tally in tallies.items()]
        return sorted(rows, key=lambda row: (-row.tally.sent, -row.tally.started, row.key))

    def summary(
        self,
        clients: Sequence[str],
        from_ms: int,
        to_ms: int,
        *,
        channel: str | None = None,
        country: str | None = None,
        prefix: str | None = None,
    ) -> Tally:
        """
        The tally of ``clients`` in ``[from_ms, to_ms)``, of one channel, country or prefix (a
        prefix matches the prefixes counted that start with it).

        Raises:
            InvalidRequest: ``prefix`` is longer than the prefixes counted for its numbers.
            StoreUnavailable: Redis failed.
        """
        tally = Tally()
        for counter, count in self._counters(clients, from_ms, to_ms):
            if prefix and _is_finer(prefix, counter.prefix):
                raise InvalidRequest(
                    [FieldError("prefix", f"is finer than the prefixes counted ({counter.prefix})")]
                )
            if (
                (channel is None or counter.channel == channel)
                and (country is None or counter.country == country)
                and (not prefix or counter.prefix.startswith(prefix))
            ):
                tally.add(counter.metric, count)
        return tally

    def attempts(
        self,
        clients: Sequence[str],
        wanted: AttemptFilter,
        page_size: int,
        cursor: str | None = None,
    ) -> Page:
        """
        One page of the attempts ``wanted``, newest first; ``cursor`` (a page's ``next_cursor``)
        continues after the page that gave it.

        Raises:
            InvalidRequest: ``cursor`` is not one this service gave.
            StoreUnavailable: Redis failed.
        """
        after = (0, "")
        before_ms = wanted.before_ms
        if cursor is not None:
            after = _parse_cursor(cursor)
            before_ms = min(before_ms, after[0] + 1)
        # Nothing is kept after now or before the retention: a window past either reads no hours.
        before_ms = min(before_ms, self.now_ms() + HOUR_MS)
        oldest_ms = max(wanted.after_ms, self.now_ms() - self._retention.attempt_days * DAY_MS)
        found: list[Attempt] = []
        hour = hour_of(before_ms - 1)
        while hour >= hour_of(oldest_ms) and len(found) <= page_size:
            hours = range(hour, max(hour - HOURS_PER_READ, hour_of(oldest_ms) - 1), -1)
            batch = [a for a in self._store.attempts(clients, hours) if wanted.matches(a)]
            batch.sort(key=lambda a: (a.created_ms, a.id), reverse=True)
            found.extend(a for a in batch if cursor is None or (a.created_ms, a.id) < after)
            hour = hours[-1] - 1
        page = found[:page_size]
        more = len(found) > page_size
        return Page(page, f"{page[-1].created_ms}-{page[-1].id}" if more else None)

    def attempt(self, clients: Sequence[str], attempt_id: str) -> Attempt | None:
        """
        The attempt with this id (32 hex digits), if one of ``clients`` made it.

        Raises:
            StoreUnavailable: Redis failed.
        """
        return self._store.attempt(clients, attempt_id)

    def _counters(
        self, clients: Sequence[str], from_ms: int, to_ms: int
    ) -> list[tuple[Counter, int]]:
        oldest_ms = self.now_ms() - self._retention.count_days * DAY_MS - HOUR_MS
        hours = hours_overlapping(max(from_ms, oldest_ms), min(to_ms, self.now_ms() + HOUR_MS))
        read = self._store.counts(clients, hours)
        return [(counter, n) for field, n in read if (counter := Counter.of_field(field))]


def _is_finer(wanted: str, counted: str) -> bool:
    """Whether ``wanted`` names part of the numbers one counted prefix stands for."""
    return bool(counted) and wanted.startswith(counted) and wanted != counted


def _parse_cursor(cursor: str) -> tuple[int, str]:
    match = _CURSOR.fullmatch(cursor)
    if match is None:
        raise InvalidRequest([FieldError("cursor", "is not a page token this service gave")])
    return int(match.group(1)), match.group(2)
