"""
Destinations: phone numbers to E.164 (``phonenumbers``), email addresses normalised
(``email-validator``). Whatever is not a deliverable-looking destination is an ``InvalidRequest``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import PhoneNumberType

from otp_service.core.errors import FieldError, InvalidRequest
from otp_service.core.models import Channel

# Numbers that can receive an SMS. Fixed lines, toll-free, premium-rate and shared-cost numbers
# cannot, and premium-rate ones are the classic SMS-pumping target.
SMS_CAPABLE_TYPES: Final = frozenset(
    {
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
        PhoneNumberType.PERSONAL_NUMBER,
        PhoneNumberType.VOIP,
    }
)
MAX_EMAIL_LENGTH: Final = 254
# A plain dot-atom local part (RFC 5322 atext, and UTF-8 as RFC 6531 allows): no quoted string,
# no comment. ``=?`` is refused as well: mail libraries decode it as an RFC 2047 encoded word.
_ATEXT: Final = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010FFFF-]+"
_DOT_ATOM: Final = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*")


@dataclass(frozen=True, slots=True)
class Destination:
    """A normalised destination: ``to`` in canonical form, and the phone's country when SMS."""

    channel: Channel
    to: str
    country: str | None = None


def _invalid(message: str, field: str = "to") -> InvalidRequest:
    return InvalidRequest([FieldError(field, message)])


def parse_phone(raw: str, default_region: str = "", channel: Channel = Channel.SMS) -> Destination:
    """
    Normalise a phone number to E.164 (a landline only for voice).

    Raises:
        InvalidRequest: not a valid phone number, or not a mobile one for text channels.
    """
    # ASCII only: phonenumbers would read look-alike digits of other scripts and vanity letters.
    if not raw.isascii() or not raw.isprintable() or any(c.isalpha() for c in raw):
        raise _invalid("must be a phone number in E.164 form, such as +14155550100")
    if not raw.startswith("+") and not default_region:
        raise _invalid("must start with + and the country code, such as +14155550100")
    try:
        number = phonenumbers.parse(raw, default_region or None)
    except phonenumbers.NumberParseException as error:
        raise _invalid("is not a phone number") from error
    if not phonenumbers.is_valid_number(number):
        raise _invalid("is not a valid phone number")
    if channel is not Channel.VOICE and phonenumbers.number_type(number) not in SMS_CAPABLE_TYPES:
        what = "SMS" if channel is Channel.SMS else "WhatsApp messages"
        raise _invalid(f"cannot receive {what} (not a mobile number)")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return Destination(channel, e164, phonenumbers.region_code_for_number(number))


def parse_email(raw: str) -> Destination:
    """
    Normalise an email address (syntax only: no DNS look-ups).

    Raises:
        InvalidRequest: not a valid address.
    """
    if len(raw) > MAX_EMAIL_LENGTH:
        raise _invalid(f"must be at most {MAX_EMAIL_LENGTH} characters")
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as error:
        raise _invalid("is not a valid email address") from error
    local = result.local_part
    if "=?" in local or not _DOT_ATOM.fullmatch(local):
        raise _invalid(
            "must have a plain local part (letters, digits, dots and !#$%&'*+/=^_`{|}~-)"
        )
    return Destination(Channel.EMAIL, result.normalized)


def parse_destination(channel: Channel | None, raw: str, default_region: str = "") -> Destination:
    """
    Normalise ``raw`` for ``channel`` (guessed from the form of ``raw`` when None).

    Raises:
        InvalidRequest: ``raw`` is not a valid destination for the channel.
    """
    # Pasted spaces around a destination are harmless; control characters are refused below.
    raw = raw.strip(" ")
    if channel is None:
        channel = Channel.EMAIL if "@" in raw else Channel.SMS
    if channel is Channel.EMAIL:
        return parse_email(raw)
    return parse_phone(raw, default_region, channel)


def parse_any_destination(raw: str, default_region: str = "") -> Destination:
    """
    Normalise ``raw`` to look up whatever is pending for it: an email address, or any valid
    phone number (landlines included, which voice calls reach).

    Raises:
        InvalidRequest: ``raw`` is neither.
    """
    return parse_destination(Channel.EMAIL if "@" in raw else Channel.VOICE, raw, default_region)
