"""
The verification store's records: a verification's hash fields, and what its scripts answer,
parsed strictly (an unexpected reply is a ``ValueError``, which the script runner turns into a 503).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from otp_service.core.models import Channel, Status, Verification
from otp_service.core.transactions import transaction_of
from otp_service.storage.script_store import hash_fields
from otp_service.storage.scripts import string_list

_STRING_FIELDS: Final = (
    "id",
    "client",
    "to",
    "locale",
    "first_channel",
    "send_log",
    "fallbacks",
)
_INT_FIELDS: Final = (
    "attempts",
    "max_attempts",
    "sends",
    "max_sends",
    "created_ms",
    "expires_ms",
    "next_send_ms",
    "updated_ms",
    "dest_failures",
)


#: The verification hash's fields, format 2: one letter each (a listpack of about 200 bytes instead
#: of 300). Format 1, the full names, is what records written before it hold; every script and
#: ``parse_verification`` read both (a record keeps its format until it expires).
FIELD_CODES: Final = {
    "client": "k",
    "channel": "h",
    "to": "t",
    "code_hash": "x",
    "status": "s",
    "attempts": "a",
    "max_attempts": "A",
    "sends": "d",
    "max_sends": "D",
    "created_ms": "c",
    "expires_ms": "e",
    "next_send_ms": "n",
    "updated_ms": "u",
    "locale": "l",
    "dest_failures": "f",
    "delivery_status": "y",
    "fallbacks": "b",
    "first_channel": "g",
    "send_log": "o",
    "amount": "m",
    "payee": "p",
}
_FIELD_NAMES: Final = {code: name for name, code in FIELD_CODES.items()}
#: What a format-2 field left out holds (and ``updated_ms`` then is ``created_ms``): a new record
#: leaves these out, and reading a record fills them in (scripts too: ``hmget`` in ``fields_lua``).
#: These values are part of format 2, not settings: a record of a client whose policy allows 3
#: checks stores ``A`` = 3, and changing a value here would misread the records already written.
IMPLIED: Final = {
    "attempts": "0",
    "max_attempts": "5",
    "sends": "1",
    "max_sends": "5",
    "locale": "en",
    "dest_failures": "0",
}


def named_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """A verification hash's fields by their full names, whatever its format."""
    if "s" not in fields:  # format 1
        return dict(fields)
    named = {**IMPLIED, **{_FIELD_NAMES.get(name, name): value for name, value in fields.items()}}
    named.setdefault("updated_ms", named["created_ms"])
    return named


def fields_lua() -> str:
    """
    The Lua every verification script starts with: ``fields_of(key)``, the field names of the
    record at ``key`` (format 1 when it has ``status``, else format 2), and ``hmget(key, ...)``,
    ``HMGET`` with what format 2 leaves out filled in (``IMPLIED``: keyed by one-letter names, so
    never applied to format 1; nothing is filled in on a missing key).
    """
    names = ", ".join(f"{name}='{name}'" for name in FIELD_CODES)
    codes = ", ".join(f"{name}='{code}'" for name, code in FIELD_CODES.items())
    implied = ", ".join(f"{FIELD_CODES[name]}='{value}'" for name, value in IMPLIED.items())
    return (
        f"local FORMAT_1 = {{{names}}}\nlocal FORMAT_2 = {{{codes}}}\n"
        f"local IMPLIED = {{{implied}}}\n"
        "local function fields_of(key)\n"
        "  if redis.call('HEXISTS', key, 'status') == 1 then return FORMAT_1 end\n"
        "  return FORMAT_2\nend\n"
        "local function hmget(key, ...)\n"
        "  local names, values = {...}, redis.call('HMGET', key, ...)\n"
        "  if redis.call('EXISTS', key) == 0 then return values end\n"
        "  for i, name in ipairs(names) do\n"
        "    if not values[i] and IMPLIED[name] then values[i] = IMPLIED[name] end\n"
        "  end\n"
        "  return values\nend\n"
    )


@dataclass(frozen=True, slots=True)
class Reservation:
    """
    What ``reserve_attempt`` answered: ``ok``, ``missing``, ``gone``, ``expired`` or ``locked``;
    ``reason`` says why the owner's verification can no longer be checked (``gone``, ``expired``).
    """

    outcome: str
    code_hash: str = ""
    attempts: int = 0
    max_attempts: int = 0
    expires_ms: int = 0
    to: str = ""
    dest_failures: int = 0
    reason: str | None = None
    #: The latest send (the one a right code approves): its channel, number and time.
    channel: str = ""
    sends: int = 0
    sent_ms: int = 0


@dataclass(frozen=True, slots=True)
class ResendOutcome:
    """What ``resend`` answered: ``ok`` with the updated verification, or why not and until when."""

    outcome: str
    verification: Verification | None = None
    until_ms: int = 0


def creation_args(verification: Verification, code_hash: str) -> list[str | int]:
    """
    What a creating script is given for a new verification's hash (format 2): the count of time
    fields, then ``field, value`` pairs, the time fields first (the creation time leading). On
    Redis's clock (``server``) the script moves those times by the difference between TIME and
    the first one, so the field names live here alone.
    """
    times = {
        "c": verification.created_ms,
        "e": verification.expires_ms,
        "n": verification.next_send_ms,
    }
    fields: dict[str, str | int] = {
        **times,
        "k": verification.client,
        "h": verification.channel.value,
        "t": verification.to,
        "x": code_hash,
        "s": verification.status.value,
        "a": verification.attempts,
        "A": verification.max_attempts,
        "d": verification.sends,
        "D": verification.max_sends,
        "l": verification.locale,
        "f": verification.dest_failures,
    }
    # Format 2 leaves out what is implied (IMPLIED), and the update time until the first update.
    for name, value in IMPLIED.items():
        if str(fields[FIELD_CODES[name]]) == value:
            del fields[FIELD_CODES[name]]
    if verification.fallbacks:
        fields["b"] = verification.fallbacks
    if verification.transaction is not None:
        fields["m"] = verification.transaction.amount
        fields["p"] = verification.transaction.payee
    return [len(times), *(item for pair in fields.items() for item in pair)]


def parse_verification(fields: Mapping[str, str]) -> Verification:
    """Build a ``Verification`` from the fields of its hash (either format) and its ``id``."""
    fields = named_fields(fields)
    values: dict[str, Any] = {name: fields[name] for name in _STRING_FIELDS if name in fields}
    values.update({name: int(fields[name]) for name in _INT_FIELDS if name in fields})
    return Verification(
        channel=Channel(fields["channel"]),
        status=Status(fields["status"]),
        delivery_status=fields.get("delivery_status") or None,
        transaction=transaction_of(fields.get("amount"), fields.get("payee")),
        **values,
    )


_RESERVATION_REFUSALS: Final = ("gone", "expired")
_RESEND_REFUSALS: Final = ("missing", "locked", "max_sends", "cooldown")


def reservation(reply: Any) -> Reservation:
    outcome = string_list(reply)[0]
    if outcome == "ok" and len(reply) == 9:
        attempts, max_attempts, dest_failures = int(reply[2]), int(reply[3]), int(reply[5])
        return Reservation(
            "ok",
            reply[1],
            attempts,
            max_attempts,
            to=reply[4],
            dest_failures=dest_failures,
            channel=reply[6],
            sends=int(reply[7]),
            sent_ms=int(reply[8]),
        )
    if outcome == "locked" and len(reply) == 2:
        return Reservation("locked", expires_ms=int(reply[1]))
    if outcome in _RESERVATION_REFUSALS and len(reply) == 2:
        return Reservation(outcome, reason=reply[1])
    if outcome == "missing" and len(reply) == 1:
        return Reservation(outcome)
    raise ValueError("not a reserve_attempt reply")


def resend_outcome(verification_id: str, reply: Any) -> ResendOutcome:
    outcome = string_list(reply)[0]
    if outcome == "ok":
        fields = hash_fields(reply[1:])
        fields["id"] = verification_id
        return ResendOutcome("ok", parse_verification(fields))
    if outcome == "missing" and len(reply) == 1:
        return ResendOutcome("missing")
    if outcome in _RESEND_REFUSALS and len(reply) == 2:
        return ResendOutcome(outcome, until_ms=int(reply[1]))
    raise ValueError("not a resend reply")


def fields_of(verification_id: str) -> Callable[[Any], Verification | None]:
    """A parser of a script's ``HGETALL`` reply: the verification, or None for ``{}``."""

    def parse(reply: Any) -> Verification | None:
        if not string_list(reply):
            return None
        fields = hash_fields(reply)
        fields["id"] = verification_id
        return parse_verification(fields)

    return parse


def fallen_back(verification_id: str, reply: Any) -> Verification | str:
    outcome = string_list(reply)[0]
    if outcome in ("gone", "max_sends") and len(reply) == 1:
        return str(outcome)
    if outcome != "ok":
        raise ValueError("not a fall_back reply")
    return parse_verification({**hash_fields(reply[1:]), "id": verification_id})
