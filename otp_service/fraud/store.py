"""
FraudStore: the pumping guard's counts and blocks in Redis, each decision one Lua script.

Keys (``<prefix>`` is ``OTP_REDIS_PREFIX``; ``{+1}`` the calling code, a hash tag, so one
country's keys share a Redis Cluster slot):

- ``<prefix>:fraud:{+1}:n:<level>``: hash of decayed counts of sends and approvals under a
  level (``US``, ``+1415``, ...) and when they were last updated; kept 3 days after the last.
- ``<prefix>:fraud:{+1}:b:<level>``: hash of a block (until, mode, the figures behind it);
  expires with the block.
- ``<prefix>:fraud:{+1}:ok:<digest>``: when the number last used a code (keyed digest); it passes
  the blocks of its range for 30 days.
- ``<prefix>:fraud:blocks``: sorted set ``<calling code>|<level>`` by until when, to list them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from otp_service.core.errors import StoreUnavailable
from otp_service.core.models import destination_digest
from otp_service.fraud.models import (
    KEEP_COUNTS_MS,
    TRUST_MS,
    Block,
    Decision,
    Figures,
    Thresholds,
)
from otp_service.fraud.prefixes import NumberPrefixes, calling_code_of
from otp_service.storage.script_store import ScriptStore, guard, hash_fields, lua_function
from otp_service.storage.scripts import MalformedReply


@dataclass(frozen=True, slots=True)
class FraudCall:
    """One run of ``fraud_admit`` for a send: the number, the script's keys and arguments."""

    number: NumberPrefixes
    keys: list[str]
    args: list[Any]


_OUTCOMES: Final = ("allowed", "approved", "refused", "blocked", "monitored")


def _decision(reply: Any) -> Decision:
    if not isinstance(reply, list) or not reply or reply[0] not in _OUTCOMES:
        raise MalformedReply("expected a fraud decision")
    if reply[0] in ("allowed", "approved"):
        return Decision(str(reply[0]))
    if reply[0] == "refused":
        return Decision("refused", str(reply[1]), int(reply[2]))
    window, *numbers = reply[3:9]
    figures = Figures(str(window), *(float(number) for number in numbers))
    return Decision(str(reply[0]), str(reply[1]), int(reply[2]), figures)


def _record(reply: Any) -> list[str]:
    if not isinstance(reply, list):
        raise MalformedReply("expected a block record")
    return [str(item) for item in reply]


_FIGURES: Final = ("sends", "approvals", "expected", "excess", "threshold")


def _block(fields: dict[str, str]) -> Block:
    figures = Figures(fields["window"], *(float(fields[name]) for name in _FIGURES))
    since, until = int(fields["since"]), int(fields["until"])
    return Block(fields["level"], fields["country"], fields["mode"], since, until, figures)


def fraud_admit_lua() -> str:
    """``fraud_admit`` as a Lua function of (KEYS, ARGV), for a start script to include."""
    return lua_function("otp_service.fraud", "fraud_admit")


class FraudStore(ScriptStore):
    """Counts, decisions and blocks of the pumping guard."""

    SCRIPT_PACKAGE = "otp_service.fraud"
    SCRIPT_NAMES = ("fraud_admit", "fraud_unblock")

    def _key(self, calling_code: str, kind: str, level: str) -> str:
        return f"{self.prefix}:fraud:{{{calling_code}}}:{kind}:{level}"

    @property
    def _index(self) -> str:
        return f"{self.prefix}:fraud:blocks"

    def _keys(self, to: str, number: NumberPrefixes) -> list[str]:
        code = number.calling_code
        return [
            *(self._key(code, "n", level) for level in number.levels),
            *(self._key(code, "b", level) for level in number.levels),
            self._key(code, "ok", destination_digest(to, self._name_key)),
        ]

    def decide(
        self, to: str, number: NumberPrefixes, mode: str, thresholds: Thresholds, now_ms: int
    ) -> Decision:
        """
        Count a send to ``to`` (whose prefixes are ``number``) and decide on it (``mode``:
        ``block`` or ``monitor``).

        Raises:
            StoreUnavailable: Redis failed.
        """
        call = self.decision_call(to, number, mode, thresholds, now_ms)
        reply = self._run("fraud_admit", call.keys, call.args, lambda reply: reply)
        return self.decided(call, reply)

    def decision_call(
        self, to: str, number: NumberPrefixes, mode: str, thresholds: Thresholds, now_ms: int
    ) -> FraudCall:
        """The keys and arguments of ``fraud_admit`` for a send, which a start script may run."""
        args: list[Any] = [
            self._now(now_ms),
            mode,
            thresholds.allowance,
            thresholds.ratio,
            thresholds.deviations,
            thresholds.prior,
            thresholds.prior_weight,
            thresholds.block_seconds * 1000,
            KEEP_COUNTS_MS,
            TRUST_MS,
            *number.levels,
        ]
        return FraudCall(number, self._keys(to, number), args)

    def decided(self, call: FraudCall, reply: Any) -> Decision:
        """
        The decision ``fraud_admit`` answered for ``call``; a new block is listed.

        Raises:
            StoreUnavailable: Redis failed, or the reply is not a decision.
        """
        try:
            decision = _decision(reply)
        except MalformedReply as error:
            raise StoreUnavailable("the store answered an unexpected reply") from error
        if decision.outcome in ("blocked", "monitored"):
            with guard():
                member = f"{call.number.calling_code}|{decision.prefix}"
                self.client.zadd(self._index, {member: decision.until_ms})
        return decision

    def approve(self, to: str, number: NumberPrefixes, now_ms: int) -> None:
        """
        Count an approval (a right code) under every level of ``to``, and trust the number.

        Raises:
            StoreUnavailable: Redis failed.
        """
        args = [self._now(now_ms), "approve", 0, 0, 0, 0, 0, 0, KEEP_COUNTS_MS, TRUST_MS]
        keys = self._keys(to, number)
        self._write_unread("fraud_admit", keys, [*args, *number.levels], required=False)

    def blocks(self, now_ms: int) -> list[Block]:
        """
        The blocks not yet over at ``now_ms`` (enforced and monitored), soonest over first.

        Raises:
            StoreUnavailable: Redis failed.
        """
        with guard():
            self.client.zremrangebyscore(self._index, "-inf", now_ms)
            members = cast(Sequence[str], self.client.zrange(self._index, 0, -1))
            found = []
            for member in members:
                code, _, level = member.partition("|")
                fields = cast(dict[str, str], self.client.hgetall(self._key(code, "b", level)))
                if fields and int(fields["until"]) > now_ms:
                    found.append(_block(fields))
        return found

    def unblock(self, level: str) -> Block | None:
        """
        End the block of ``level`` (a country or an E.164 prefix); None when there was none.

        Raises:
            StoreUnavailable: Redis failed.
        """
        code = calling_code_of(level)
        if code is None:
            return None
        keys = [self._key(code, "b", level), self._key(code, "n", level)]
        record = hash_fields(self._run("fraud_unblock", keys, [], _record))
        with guard():
            self.client.zrem(self._index, f"{code}|{level}")
        return _block(record) if record else None
