"""
Admission: every limit a new start is subject to, as the keys and arguments of one Lua function
(``lua/admission.lua``) that the start's scripts include, so the limits are tested and counted
in the same script that creates the verification: a refused start counts nothing.

The windows are the ``limits`` library's moving windows, under the library's own key names, so
its reads (an admin's view of a lockout, ``get_window_stats``) and resets see the same counts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from limits import RateLimitItem

from otp_service.abuse.destination_locks import consecutive_key
from otp_service.abuse.limits_storage import parse_limits
from otp_service.abuse.lockouts import DestinationLockouts
from otp_service.core.errors import StoreUnavailable
from otp_service.core.models import PHONE_CHANNELS, Channel, Client, destination_digest
from otp_service.fraud import FraudCall, FraudGuard
from otp_service.storage.script_store import lua_source

log = logging.getLogger("otp_service.abuse.guard")


@dataclass(frozen=True, slots=True)
class Window:
    """One moving window: the limit's name, its item and the identifiers of its key."""

    name: str
    item: RateLimitItem
    identifiers: tuple[str, ...]

    def key(self, key_prefix: str) -> str:
        """The window's list, as the ``limits`` storage names it."""
        return f"{key_prefix}:{self.item.key_for(self.name, *self.identifiers)}"


@dataclass(frozen=True, slots=True)
class Admission:
    """What a start script is given to admit a start: the function's keys and arguments, and
    the pumping guard's call for the send (None: not guarded)."""

    keys: list[str]
    args: list[str | int | float]
    fraud: FraudCall | None


def admission_lua() -> str:
    """The Lua function ``admission(keys, argv, count)``, for a start script to include."""
    return lua_source("otp_service.abuse", "admission")


def windows(name: str, spec: str, *identifiers: str) -> list[Window]:
    """Every window of ``spec`` (``"5/10minutes;10/day"``)."""
    return [Window(name, item, identifiers) for item in parse_limits(spec)]


def start_windows(client: Client, ip: str | None) -> list[Window]:
    """The client's and the end user's IP rate of starts."""
    found = windows("client_starts", client.policy.client_starts, client.name)
    if ip:
        found += windows("ip_starts", client.policy.ip_starts, client.name, ip)
    return found


def send_windows(
    client: Client, channel: Channel, digest: str, country: str | None, country_spec: str
) -> list[Window]:
    """The sends to one destination, of one channel, and of SMS to one country."""
    found = windows("destination_sends", client.policy.destination_sends, client.name, digest)
    for limited, spec in client.policy.channel_sends:
        if limited is channel:
            found += windows(f"{channel}_sends", spec, client.name)
    if channel in PHONE_CHANNELS and country:
        found += windows("sms_country_sends", country_spec, country)
    return found


@dataclass(frozen=True, slots=True)
class Lockout:
    """When a destination's run of wrong codes locks it, and how long such a run is kept."""

    max_consecutive: int
    consecutive_ttl_seconds: int


class StartAdmission:
    """
    Every limit of a new start, as the keys and arguments of ``admission``, and what its reply
    means.

    Args:
        key_prefix: the ``limits`` storage's key prefix.
        name_key: the secret destinations are hashed under in key names.
        lockouts: the destinations' lockouts (their hashes are read by the script).
        lockout: when a run of wrong codes locks.
        country_spec: the SMS cap of a country.
        trip: records a tripped limit and raises ``RateLimited``.
        fraud: the pumping guard, when there is one.
    """

    def __init__(
        self,
        key_prefix: str,
        name_key: bytes,
        lockouts: DestinationLockouts,
        lockout: Lockout,
        country_spec: Callable[[str | None], str],
        trip: Callable[[Client, str, float], NoReturn],
        fraud: FraudGuard | None,
    ) -> None:
        self._key_prefix = key_prefix
        self._name_key = name_key
        self._lockouts = lockouts
        self._lockout = lockout
        self._country_spec = country_spec
        self._trip = trip
        self._fraud = fraud

    def plan(
        self, client: Client, channel: Channel, to: str, country: str | None, ip: str | None
    ) -> Admission:
        """Every limit of a new start to ``to``, and the pumping guard's call for the send."""
        digest = destination_digest(to, self._name_key)
        every = [
            *start_windows(client, ip),
            *send_windows(client, channel, digest, country, self._country_spec(country)),
        ]
        keys = [
            self._lockouts.key(client.name, digest),
            f"{self._key_prefix}:{consecutive_key(client.name, digest)}",
            *(window.key(self._key_prefix) for window in every),
        ]
        args: list[str | int | float] = [
            repr(time.time()),  # the clock of the library's own hits
            self._lockouts.script_now(int(time.time() * 1000)),
            self._lockout.max_consecutive,
            self._lockout.consecutive_ttl_seconds,
            len(start_windows(client, ip)),
        ]
        for window in every:
            args += [window.name, window.item.amount, window.item.get_expiry()]
        fraud = None if self._fraud is None else self._fraud.call_for(client, channel, to)
        return Admission(keys, args, fraud)

    def admitted(self, client: Client, admission: Admission, reply: list[Any]) -> int:
        """
        What a start script's ``admission`` (and pumping guard) answered: the destination's
        consecutive wrong codes so far.

        Raises:
            RateLimited: a limit is exhausted. SuspectedFraud: the pumping guard refuses.
            StoreUnavailable: the reply is not an admission.
        """
        if reply[0] == "limited":
            if reply[1] == "sms_country_sends":
                log.warning("SMS pumping guard tripped", extra={"client": client.name})
            self._trip(client, str(reply[1]), float(reply[2]))
        if reply[0] != "ok":
            raise StoreUnavailable("the store answered an unexpected reply")
        if admission.fraud is not None and self._fraud is not None and len(reply) > 2:
            self._fraud.decided(client, admission.fraud, reply[2:])
        return int(reply[1])
