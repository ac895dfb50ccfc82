"""
What the request and response models of every face share (pydantic): strict request bodies, IP
addresses, codes, destinations, locales and timestamps.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, IPvAnyAddress

#: What no free-text field may hold: C0 and C1 controls (U+0085 included), DEL, and the line and
#: paragraph separators U+2028 and U+2029. For use inside a regex character class.
CONTROL_CHARACTERS: Final = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029"


def _text_only(value: object) -> object:
    """Refuse a JSON number (``12`` would read as 0.0.0.12): an address is a string."""
    if not isinstance(value, str):
        raise ValueError("must be an IP address as a string")
    return value


#: An IPv4 or IPv6 address, given as a string.
IpAddress = Annotated[IPvAnyAddress, BeforeValidator(_text_only)]

Code = Annotated[
    str, Field(pattern=r"^[0-9]{4,10}$", description="The code as typed, ASCII digits only.")
]
Destination = Annotated[
    str,
    Field(
        min_length=3,
        max_length=320,
        description="A phone number in E.164 form (+14155550100) or an email address.",
    ),
]
Amount = Annotated[
    str,
    Field(
        min_length=1,
        max_length=32,
        pattern=f"^[^{CONTROL_CHARACTERS}]+$",
        description="PSD2: the amount of the transaction the code authorises, as shown (€42.50).",
    ),
]
Payee = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=f"^[^{CONTROL_CHARACTERS}]+$",
        description="PSD2: who is paid in the transaction the code authorises.",
    ),
]
Locale = Annotated[str, Field(pattern=r"^[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})?$", max_length=12)]


class StrictRequest(BaseModel):
    """A request body: unknown fields are refused, and nothing changes it once read."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def iso_timestamp(ms: int) -> str:
    """Milliseconds since the epoch as ``2026-11-24T05:01:19Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
