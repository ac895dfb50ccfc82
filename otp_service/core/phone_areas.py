"""
Phone areas: the country and the prefix of a phone number, what conversion figures are counted
by. A prefix names a range of numbers, never one number.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

import phonenumbers

#: Digits of the area (or mobile network) code a prefix keeps at most: enough to tell a carrier's
#: range or a pumped block of numbers apart, few enough to bound the prefixes of a country (1000).
MAX_AREA_DIGITS: Final = 3
#: Digits kept where the numbering plan has no area code (``phonenumbers`` says 0).
PLAIN_AREA_DIGITS: Final = 2


@dataclass(frozen=True, slots=True)
class PhoneArea:
    """An ISO 3166 country (``""``: not a phone number) and a prefix such as ``+1415``."""

    country: str = ""
    prefix: str = ""


NO_AREA: Final = PhoneArea()


@functools.lru_cache(maxsize=4096)
def phone_area(to: str) -> PhoneArea:
    """
    The area of an E.164 number: ``+14155550100`` is ``US`` and ``+1415``; an email address (or
    anything that is not a phone number) has none. Kept for the last 4096 numbers of the process:
    each event of a verification asks again, and parsing costs about 35 µs.
    """
    if not to.startswith("+"):
        return NO_AREA
    try:
        number = phonenumbers.parse(to)
    except phonenumbers.NumberParseException:
        return NO_AREA
    national = phonenumbers.national_significant_number(number)
    area_digits = phonenumbers.length_of_national_destination_code(number) or PLAIN_AREA_DIGITS
    area = national[: min(area_digits, MAX_AREA_DIGITS)]
    country = phonenumbers.region_code_for_number(number) or phonenumbers.UNKNOWN_REGION
    return PhoneArea(country, f"+{number.country_code}{area}")
