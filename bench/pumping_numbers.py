"""
The numbers the pumping simulator sends to: valid mobile numbers of a country, spread over its
ranges as ``phonenumbers`` metadata describes them; an attack's pattern (``+88213{6}``); the
numbers of a safe list.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Final

import phonenumbers
from phonenumbers import PhoneNumberType

#: Distinct numbers drawn per country; each send keeps one's first E.164 digits (its prefix
#: levels, up to seven digits) and draws the rest anew, so numbers rarely repeat.
POOL_SIZE: Final = 4000
#: The E.164 digits a drawn number keeps from its pool number (the guard's longest prefix).
KEPT_DIGITS: Final = 7
_MOBILE: Final = (PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE)
_LEAD_TRIES: Final = 40  # random numbers tried per (length, two leading digits)
_GROUP: Final = re.compile(r"\{(\d+)\}")


def _digits(draw: random.Random, count: int) -> str:
    return str(draw.randrange(10**count)).zfill(count) if count else ""


class CountryNumbers:
    """
    Random valid mobile numbers of ``region`` (ISO 3166). National numbers are drawn uniformly
    from the mobile ranges of the metadata: for each possible length and pair of leading digits,
    the share of random numbers that the mobile pattern accepts weighs that pair, then numbers
    are drawn under it until one is accepted (and ``phonenumbers`` confirms it is a mobile).

    Raises:
        ValueError: the metadata has no mobile numbers for ``region``.
    """

    def __init__(self, region: str, draw: random.Random, size: int = POOL_SIZE) -> None:
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        mobile = metadata.mobile if metadata else None
        if metadata is None or mobile is None or not mobile.national_number_pattern:
            raise ValueError(f"{region}: phonenumbers has no mobile numbers for it")
        self.region = region
        self._code = str(metadata.country_code)
        self._pattern = re.compile(mobile.national_number_pattern)
        self._draw = draw
        general = metadata.general_desc.possible_length if metadata.general_desc else ()
        lengths = [n for n in mobile.possible_length if n > 0] or list(general)
        strata: list[tuple[int, str]] = []
        weights: list[float] = []
        for length in lengths:
            for lead in range(100 if length > 2 else 1):
                head = f"{lead:02d}" if length > 2 else ""
                hits = sum(
                    self._valid(head + _digits(draw, length - len(head)))
                    for _ in range(_LEAD_TRIES)
                )
                if hits:
                    strata.append((length, head))
                    weights.append(hits)
        if not strata:
            raise ValueError(f"{region}: no random number matched its mobile pattern")
        self.pool: list[str] = []
        for length, head in draw.choices(strata, weights, k=size):
            self.pool.append(self._one(length, head))

    def _valid(self, national: str) -> bool:
        return self._pattern.fullmatch(national) is not None

    def _one(self, length: int, head: str) -> str:
        while True:
            national = head + _digits(self._draw, length - len(head))
            if self._valid(national) and self._is_mobile(national):
                return f"+{self._code}{national}"

    def _is_mobile(self, national: str) -> bool:
        number = phonenumbers.parse(f"+{self._code}{national}")
        return phonenumbers.region_code_for_number(number) == self.region and (
            phonenumbers.number_type(number) in _MOBILE
        )

    def number(self) -> str:
        """
        A random number: a pool number's first ``KEPT_DIGITS`` E.164 digits, the rest drawn anew
        (the pool number itself when a few draws do not give a valid mobile).
        """
        base = self._draw.choice(self.pool)
        keep = KEPT_DIGITS + 1  # the "+"
        national_start = 1 + len(self._code)
        for _ in range(4):
            candidate = base[:keep] + _digits(self._draw, len(base) - keep)
            if self._valid(candidate[national_start:]):
                return candidate
        return base


def pattern_numbers(patterns: list[str], draw: random.Random) -> Callable[[], str]:
    """A draw of numbers of ``patterns`` (``+88213{6}``: 10^6 numbers), one pattern at random."""
    parts = [_GROUP.split(pattern) for pattern in patterns]

    def number() -> str:
        pieces = draw.choice(parts)
        # split() alternates literal text and the group's digit count
        return "".join(
            piece if index % 2 == 0 else _digits(draw, int(piece))
            for index, piece in enumerate(pieces)
        )

    return number


def _fill_of(entry: str) -> int:
    """Random digits that make ``entry`` a whole number: up to its country's longest mobile."""
    for code_length in (1, 2, 3):
        region = phonenumbers.region_code_for_country_code(int(entry[1 : 1 + code_length]))
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is not None and metadata.mobile is not None:
            lengths = [n for n in metadata.mobile.possible_length if n > 0] or [10]
            return max(max(lengths) - (len(entry) - 1 - code_length), 0)
    return max(12 - (len(entry) - 1), 0)


def safe_numbers(entries: list[str], draw: random.Random) -> Callable[[], str]:
    """
    A draw of numbers covered by the safe-list ``entries``: a whole number as it is, a prefix
    followed by random digits up to its country's longest mobile number.
    """
    fills = {entry: _fill_of(entry) for entry in entries}

    def number() -> str:
        entry = draw.choice(entries)
        return entry + _digits(draw, fills[entry])

    return number
