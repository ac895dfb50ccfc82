"""
The prefixes a phone number is counted under by the pumping guard: its country, then E.164
prefixes of growing length, so a block can be as narrow as the pumped range of numbers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

import phonenumbers

#: The longest prefix counted, in E.164 digits (country code included): ``+1415555`` is 7.
LONGEST_PREFIX: Final = 7
#: The shortest digit prefix counted after the country; no prefix ends inside the country code.
SHORTEST_PREFIX: Final = 4


@dataclass(frozen=True, slots=True)
class NumberPrefixes:
    """
    Where one number is counted: ``country`` (ISO 3166, or ``+882`` for a calling code that has
    no country), ``calling_code`` (the hash tag that keeps one country's counts on one Redis
    slot), and ``levels``: the country first, then digit prefixes from the shortest to the
    longest, e.g. ``("US", "+1415", "+14155", "+141555", "+1415555")``.
    """

    country: str
    calling_code: str
    levels: tuple[str, ...]


@functools.lru_cache(maxsize=4096)
def number_prefixes(to: str) -> NumberPrefixes | None:
    """
    The prefixes of an E.164 number, or None when ``to`` is not one (an email address).

    The number need not be valid: a pumped range often is not, and it is counted all the same.
    Kept for the last 4096 numbers of the process (a send, then its approval, ask again).
    """
    if not to.startswith("+"):
        return None
    try:
        number = phonenumbers.parse(to)
    except phonenumbers.NumberParseException:
        return None
    if number.country_code is None:
        return None
    calling_code = str(number.country_code)
    digits = calling_code + phonenumbers.national_significant_number(number)
    country = phonenumbers.region_code_for_number(number) or ""
    if not country.isalpha():  # "001": an international network such as +882
        country = phonenumbers.region_code_for_country_code(number.country_code)
    if not country.isalpha() or country == phonenumbers.UNKNOWN_REGION:
        country = "+" + calling_code
    shortest = max(SHORTEST_PREFIX, len(calling_code) + 1)
    longest = min(LONGEST_PREFIX, len(digits) - 1)
    prefixes = tuple("+" + digits[:length] for length in range(shortest, longest + 1))
    return NumberPrefixes(country, "+" + calling_code, (country, *prefixes))


def calling_code_of(level: str) -> str | None:
    """
    The calling code (``+1``) whose counts hold ``level`` (``US``, ``+882`` or ``+1415``), or
    None when ``level`` is neither a country nor an E.164 prefix.
    """
    if level.isalpha() and len(level) == 2:
        code = phonenumbers.country_code_for_region(level.upper())
        return f"+{code}" if code else None
    digits = level[1:]
    if not (level.startswith("+") and digits.isdigit()):
        return None
    for length in range(1, min(len(digits), 3) + 1):
        if phonenumbers.region_code_for_country_code(int(digits[:length])) != "ZZ":
            return "+" + digits[:length]
    return None
