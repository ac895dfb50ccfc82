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

import time
from dataclasses import dataclass
from typing import Any, Final

from otp_service.abuse.destination_locks import CONSECUTIVE_FAILURES_TTL_SECONDS
from otp_service.storage.script_store import ScriptStore, guard, lua_function, lua_source
from otp_service.storage.scripts import is_cluster

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


def _locked_and_run(reply: Any) -> tuple[bool, int]:
    if not isinstance(reply, list) or len(reply) != 2 or reply[0] not in (0, 1):
        raise ValueError("not a wrong_code reply")
    return bool(reply[0]), int(reply[1])


def _int(reply: Any) -> int:
    if not isinstance(reply, int):
        raise ValueError("not a destination_lock reply")
    return reply


class DestinationLockouts(ScriptStore):
    """The lockouts of destinations, per client, each named by its keyed digest."""

    SCRIPT_PACKAGE = "otp_service.abuse"
    SCRIPT_NAMES = ("destination_lock", "destination_lock_state")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Whether one script can count a wrong code: its keys lie in several Cluster slots.
        self.scripted = not is_cluster(self.client)
        function = lua_function(self.SCRIPT_PACKAGE, "destination_lock")
        body = lua_source(self.SCRIPT_PACKAGE, "wrong_code")
        self._scripts["wrong_code"] = self.client.register_script(function + body)

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

    def count_wrong_code(
        self,
        keys: list[str],
        client: str,
        digest: str,
        windows: list[tuple[int, int]],
        schedule_seconds: tuple[int, ...],
    ) -> tuple[bool, int]:
        """
        Count a wrong code in the destination's failure ``windows`` (limit, length) and its run;
        lock it for its next step when a window fills up. Whether it was locked, and the run.
        ``keys``: the run's counter, then the windows' lists (as the ``limits`` storage names
        them).
        """
        now = time.time()
        args: list[Any] = [repr(now), CONSECUTIVE_FAILURES_TTL_SECONDS, len(windows)]
        args += [number for window in windows for number in window]
        args += [self._now(int(now * 1000)), LEVEL_MEMORY_MS]
        args += [step * 1000 for step in schedule_seconds]
        keys = [self.key(client, digest), *keys]
        return self._run("wrong_code", keys, args, _locked_and_run)

    def forget(self, client: str, digest: str) -> None:
        """End the lockout and forget its level (a right code, or an admin)."""
        with guard():
            self.client.delete(self.key(client, digest))
