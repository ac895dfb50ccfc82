"""
FraudGuard: the SMS pumping guard. Every SMS, WhatsApp message and voice call is counted under
its number's country and prefixes; a prefix whose unverified sends exceed what its history
predicts is blocked for a while (docs/fraud.md has the formula). Email is never guarded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from otp_service.core.errors import SuspectedFraud
from otp_service.core.events import Event, EventKind, EventSink
from otp_service.core.models import PHONE_CHANNELS, Channel, Client, Clock, Policy
from otp_service.fraud.models import ALLOWED, Block, Decision, FraudMode, Thresholds
from otp_service.fraud.prefixes import number_prefixes
from otp_service.fraud.store import FraudCall, FraudStore

log = logging.getLogger(__name__)


def thresholds_of(policy: Policy) -> Thresholds:
    """The thresholds a client's policy sets."""
    return Thresholds(policy.fraud_allowance, policy.fraud_ratio, policy.fraud_block_seconds)


def _iso(ms: int) -> str:
    return (
        datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


class FraudGuard:
    """
    Args:
        store: the counts and blocks.
        mode: ``block`` refuses, ``monitor`` only records what it would refuse, ``off``.
        safe_list: numbers and E.164 prefixes (``+4477009``) that are never counted or refused.
        events: where decisions go (audit trail, metrics).
        clock: the service's clock.
    """

    def __init__(
        self,
        store: FraudStore,
        mode: FraudMode,
        safe_list: Iterable[str],
        events: EventSink,
        clock: Clock,
    ) -> None:
        self._store = store
        self.mode = mode
        self._safe = tuple(safe_list)
        self._events = events
        self._clock = clock

    def _guards(self, channel: Channel, to: str) -> bool:
        guarded = self.mode is not FraudMode.OFF and channel in PHONE_CHANNELS
        return guarded and not to.startswith(self._safe)

    def admit(self, client: Client, channel: Channel, to: str) -> Decision:
        """
        Count a send to ``to`` and decide on it.

        Raises:
            SuspectedFraud: a block covers the number (or this send made one), in block mode.
            StoreUnavailable: Redis failed.
        """
        number = number_prefixes(to) if self._guards(channel, to) else None
        if number is None:
            return ALLOWED
        thresholds = thresholds_of(client.policy)
        decision = self._store.decide(to, number, self.mode, thresholds, self._clock.now_ms())
        return self._enforce(client.name, decision, number.country)

    def call_for(self, client: Client, channel: Channel, to: str) -> FraudCall | None:
        """What a start script runs to count and decide a send to ``to``; None: not guarded."""
        number = number_prefixes(to) if self._guards(channel, to) else None
        if number is None:
            return None
        thresholds = thresholds_of(client.policy)
        return self._store.decision_call(to, number, self.mode, thresholds, self._clock.now_ms())

    def decided(self, client: Client, call: FraudCall, reply: Any) -> Decision:
        """
        The decision a start script's run of ``call`` answered, enforced as ``admit`` does.

        Raises:
            SuspectedFraud: a block covers the number (or this send made one), in block mode.
            StoreUnavailable: Redis failed, or the reply is not a decision.
        """
        decision = self._store.decided(call, reply)
        return self._enforce(client.name, decision, call.number.country)

    def _enforce(self, client: str, decision: Decision, country: str) -> Decision:
        if decision.outcome == "allowed":
            return decision
        self._record(client, decision, country)
        if decision.outcome in ("refused", "blocked"):
            until = _iso(decision.until_ms)
            raise SuspectedFraud(
                decision.prefix,
                decision.until_ms,
                f"Sends to numbers starting {decision.prefix} are suspended until {until}: "
                "their codes are not being used (suspected SMS pumping).",
            )
        return decision

    def record_approval(self, channel: Channel, to: str) -> None:
        """Count a right code for ``to``; a Redis failure is logged (the approval stands)."""
        number = number_prefixes(to) if self._guards(channel, to) else None
        if number is None:
            return
        self._store.approve(to, number, self._clock.now_ms())  # a failure is only logged

    def blocks(self) -> list[Block]:
        """
        The active blocks (enforced and monitored).

        Raises:
            StoreUnavailable: Redis failed.
        """
        return self._store.blocks(self._clock.now_ms())

    def unblock(self, client: Client, prefix: str) -> Block | None:
        """
        End the block of ``prefix`` (an admin's decision, recorded); None when there was none.

        Raises:
            StoreUnavailable: Redis failed.
        """
        block = self._store.unblock(prefix)
        if block is not None:
            detail = {
                "prefix": block.prefix,
                "country": block.country,
                "mode": block.mode,
                "until": _iso(block.until_ms),
            }
            self._events.record(
                Event(EventKind.FRAUD_GUARD, client.name, outcome="unblocked", detail=detail)
            )
        return block

    def _record(self, client: str, decision: Decision, country: str) -> None:
        detail: dict[str, str | int | float | bool] = {
            "prefix": decision.prefix,
            "country": country,
            "until": _iso(decision.until_ms),
        }
        figures = decision.figures
        if figures is not None:
            detail.update(figures.rounded())
            log.warning("pumping guard: %s %s", decision.outcome, decision.prefix, extra=detail)
        self._events.record(
            Event(EventKind.FRAUD_GUARD, client, outcome=decision.outcome, detail=detail)
        )
