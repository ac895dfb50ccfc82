"""
DestinationLockouts: escalating lockouts of a destination that got too many wrong codes (a store
module: its Lua scripts are in ``lua/``).

Each time the failure window (``OTP_LIMIT_DESTINATION_FAILURES``) fills up, or the run of
consecutive failures reaches ``OTP_MAX_CONSECUTIVE_FAILURES``, the destination is locked for the
next step of ``OTP_LOCKOUT_SCHEDULE`` (1 min, 5 min, 15 min, 1 h, then 24 h each time) and the
window starts afresh: an attacker must fail as often again for each longer lock, and a victim is
not kept out for an hour by the first ten guesses. The level is forgotten a day after the last
lock ends, and at once after a right code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from otp_service.storage.script_store import ScriptStore, guard

LOCK_KEY: Final = "{prefix}:lock:{{{client}:{digest}}}"  # HASH level, locked_until_ms
#: How long the level of a destination is remembered after its lock ends.
LEVEL_MEMORY_MS: Final = 86_400_000


@dataclass(frozen=True, slots=True)
class LockState:
    """Until when a destination is locked (0: not now) and how many steps it took."""

    locked_until_ms: int
    level: int


def _int_pair(reply: Any) -> LockState:
    if not isinstance(reply, list) or len(reply) != 2:
        raise ValueError("not a destination_lock_state reply")
    return LockState(int(reply[0]), int(reply[1]))


def _int(reply: Any) -> int:
    if not isinstance(reply, int):
        raise ValueError("not a destination_lock reply")
    return reply


class DestinationLockouts(ScriptStore):
    """The lockouts of destinations, per client, each named by its keyed digest."""

    SCRIPT_PACKAGE = "otp_service.abuse"
    SCRIPT_NAMES = ("destination_lock", "destination_lock_state")

    def key(self, client: str, digest: str) -> str:
        """The lockout hash of a destination."""
        return LOCK_KEY.format(prefix=self.prefix, client=client, digest=digest)

    def lock(self, client: str, digest: str, schedule_seconds: tuple[int, ...], now_ms: int) -> int:
        """Lock the destination for its next step; until when (ms)."""
        args = [self._now(now_ms), LEVEL_MEMORY_MS, *(s * 1000 for s in schedule_seconds)]
        return self._run("destination_lock", [self.key(client, digest)], args, _int)

    def state(self, client: str, digest: str, now_ms: int) -> LockState:
        """The destination's lockout as of now."""
        args = [self._now(now_ms)]
        return self._run("destination_lock_state", [self.key(client, digest)], args, _int_pair)

    def forget(self, client: str, digest: str) -> None:
        """End the lockout and forget its level (a right code, or an admin)."""
        with guard():
            self.client.delete(self.key(client, digest))
