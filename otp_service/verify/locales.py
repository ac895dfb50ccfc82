"""
Locales of the messages: which ones ship, and which one a verification gets (the request's, else
the language of the number's country, else the client's default, else English).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Final

from otp_service.core.models import Policy

FALLBACK_LOCALE: Final = "en"
#: Locales written right to left: their email's HTML says ``dir="rtl"``.
RTL_LOCALES: Final = frozenset({"ar"})

#: The language a phone number's country (ISO 3166) reads, for the shipped locales. Countries of
#: several languages get the one most people there read; India gets the client's default (English
#: and Hindi are both official: ask for ``hi``).
_COUNTRIES_BY_LOCALE: Final[dict[str, tuple[str, ...]]] = {
    "en": ("US", "GB", "CA", "AU", "NZ", "IE", "ZA", "NG", "KE", "GH", "SG", "PH", "JM", "MT"),
    "es": (
        *("ES", "MX", "AR", "CO", "CL", "PE", "VE", "EC", "GT", "CU", "BO"),
        *("DO", "HN", "PY", "SV", "NI", "CR", "PA", "UY", "PR", "GQ"),
    ),
    "fr": (
        *("FR", "LU", "MC", "SN", "CI", "CM", "ML", "BF", "NE", "TG", "BJ"),
        *("GA", "CG", "CD", "MG", "HT", "GN", "TD", "RE", "GP", "MQ", "GF", "PF", "NC"),
    ),
    "de": ("DE", "AT", "CH", "LI"),
    "pt": ("PT", "BR", "AO", "MZ", "CV", "GW", "ST"),
    "it": ("IT", "SM", "VA"),
    "nl": ("NL", "BE", "SR", "AW", "CW", "SX"),
    "pl": ("PL",),
    "sv": ("SE", "AX"),
    "tr": ("TR",),
    "ja": ("JP",),
    "zh": ("CN", "TW", "HK", "MO"),
    "ar": (
        *("SA", "AE", "EG", "IQ", "JO", "KW", "LB", "LY", "MA", "OM"),
        *("QA", "SY", "TN", "YE", "BH", "DZ", "SD", "PS", "MR"),
    ),
    "id": ("ID",),
}
LOCALE_OF_COUNTRY: Final = {
    country: locale for locale, countries in _COUNTRIES_BY_LOCALE.items() for country in countries
}


@cache
def available_locales() -> frozenset[str]:
    """The locales that have templates."""
    root = resources.files("otp_service.verify") / "templates" / "messages"
    return frozenset(entry.name for entry in root.iterdir() if entry.is_dir())


def _shipped(candidates: Iterable[str | None]) -> str | None:
    for candidate in candidates:
        if candidate:
            language = candidate.replace("_", "-").split("-")[0].lower()
            if language in available_locales():
                return language
    return None


def resolve_locale(requested: str | None, policy: Policy, country: str | None = None) -> str:
    """
    The shipped locale a message is written in: ``requested`` narrowed to its language
    (``pt-BR`` → ``pt``), else the language of ``country``, else the policy's default, else
    English. An unknown ``requested`` locale falls back the same way.
    """
    by_country = LOCALE_OF_COUNTRY.get(country.upper()) if country else None
    return _shipped((requested, by_country, policy.default_locale)) or FALLBACK_LOCALE
