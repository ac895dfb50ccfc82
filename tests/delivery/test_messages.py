"""
The messages people receive, in every shipped locale: complete, within one SMS segment (160 GSM-7
septets, or 70 UCS-2 characters for the scripts GSM-7 lacks), and with the WebOTP line last.
"""

from __future__ import annotations

import re
from typing import Final

import pytest

from otp_service.core.models import Channel, OutboundMessage, Policy
from otp_service.verify.locales import (
    LOCALE_OF_COUNTRY,
    RTL_LOCALES,
    available_locales,
    resolve_locale,
)
from otp_service.verify.messages import render_message

#: Locales whose SMS is GSM-7 (Polish and Turkish SMS are written without the letters GSM-7 lacks).
GSM7_LOCALES: Final = ("en", "es", "fr", "de", "pt", "it", "nl", "pl", "sv", "tr", "id")
#: Locales whose script GSM-7 cannot carry: their SMS goes as UCS-2, 70 characters a segment.
UCS2_LOCALES: Final = ("ja", "zh", "ar", "hi")
LOCALES: Final = GSM7_LOCALES + UCS2_LOCALES
TEMPLATES: Final = ("sms.txt", "email_subject.txt", "email.txt", "email.html")

#: The GSM 03.38 default alphabet (3GPP TS 23.038 section 6.2.1), 127 characters (0x1B, the
#: escape to the extension table, left out); each costs one septet.
GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
#: The extension table: escape + character, two septets each.
GSM7_EXTENDED: Final = frozenset("\f^{}\\[~]|€")
SEGMENT_SEPTETS: Final = 160
SEGMENT_UCS2_UNITS: Final = 70

#: The longest inputs a message must still fit with: 10-digit code, 20-character brand,
#: 30-character WebOTP domain, the longest lifetime (86 400 s = 1440 min).
WORST_CASE: Final = {
    "code": "0123456789",
    "policy": Policy(
        code_length=10,
        code_ttl_seconds=86_400,
        brand_name="Acme Online Banking!",
        webotp_domain="verification.login.example.com",
    ),
}


#: A usual UCS-2 SMS: 6-digit code, 9-character brand, 10 minutes, an 11-character WebOTP domain
#: (a 70-character segment has no room for the GSM-7 worst case's 45-character WebOTP line).
UCS2_CASE: Final = {
    "code": "123456",
    "policy": Policy(brand_name="Acme Bank", webotp_domain="example.com"),
}


def septets(text: str) -> int:
    """
    The GSM-7 length of ``text``.

    Raises:
        ValueError: ``text`` has a character GSM-7 cannot carry (the SMS would go as UCS-2).
    """
    outside = sorted(set(text) - GSM7_BASIC - GSM7_EXTENDED)
    if outside:
        raise ValueError(f"not GSM-7: {outside}")
    return sum(2 if character in GSM7_EXTENDED else 1 for character in text)


def ucs2_units(text: str) -> int:
    """The UCS-2 length of ``text`` (UTF-16 code units, as phones count them)."""
    return len(text.encode("utf-16-le")) // 2


def worst_case_sms(locale: str, case: dict[str, object] = WORST_CASE) -> OutboundMessage:
    """The longest SMS of ``locale`` (or the SMS of another ``case``)."""
    return render_message(
        channel=Channel.SMS,
        to="+14155550100",
        verification_id="vf_" + "0" * 32,
        locale=locale,
        code=str(case["code"]),
        policy=case["policy"],  # type: ignore[arg-type]
    )


class TestGsm7Counter:
    """The counter the segment test relies on."""

    def test_basic_alphabet_has_127_characters(self) -> None:
        """128 code points, minus the escape."""
        assert 127 == len(GSM7_BASIC)

    def test_extension_characters_count_twice(self) -> None:
        """The euro sign and brackets take an escape septet each."""
        assert 7 == septets("€[a]")

    @pytest.mark.parametrize("character", ["ç", "á", "í", "ó", "ú", "ê", "õ", "ã", "`"])
    def test_characters_outside_gsm7_are_refused(self, character: str) -> None:
        """Portuguese and Spanish accents that GSM-7 lacks force UCS-2 (70 per segment)."""
        with pytest.raises(ValueError, match="not GSM-7"):
            septets(character)

    @pytest.mark.parametrize("character", ["é", "è", "à", "ù", "ä", "ö", "ü", "ß", "ñ", "Ç", "¿"])
    def test_characters_in_gsm7_are_counted_once(self, character: str) -> None:
        """These accents are in the default alphabet."""
        assert 1 == septets(character)


class TestShippedLocales:
    """Every locale ships every template."""

    def test_locales(self) -> None:
        """At least the fifteen of issue 23."""
        assert set(LOCALES) <= available_locales()
        assert 15 <= len(available_locales())

    @pytest.mark.parametrize("locale", LOCALES)
    def test_email_carries_the_code_in_both_parts(self, locale: str) -> None:
        """Subject, text and HTML are rendered, with the code in each and the brand."""
        message = render_message(
            channel=Channel.EMAIL,
            to="alice@example.com",
            code="482913",
            verification_id="vf_" + "0" * 32,
            policy=Policy(brand_name="Acme"),
            locale=locale,
        )
        assert message.subject is not None
        assert message.html is not None
        for part in (message.subject, message.text, message.html):
            assert "482913" in part
            assert "Acme" in part
        assert re.search(f'<html lang="{locale}"( dir="rtl")?>', message.html)

    @pytest.mark.parametrize("locale", LOCALES)
    def test_right_to_left_locales_say_so(self, locale: str) -> None:
        """Arabic's HTML is right to left (its code left to right); the others are not."""
        message = render_message(
            channel=Channel.EMAIL,
            to="alice@example.com",
            code="482913",
            verification_id="vf_" + "0" * 32,
            policy=Policy(brand_name="Acme"),
            locale=locale,
        )
        assert message.html is not None
        assert (locale in RTL_LOCALES) == ('dir="rtl"' in message.html)

    def test_arabic_is_right_to_left(self) -> None:
        """Arabic is among the right-to-left locales."""
        assert "ar" in RTL_LOCALES

    @pytest.mark.parametrize("locale", LOCALES)
    def test_html_escapes_the_brand(self, locale: str) -> None:
        """A brand name is text, never markup, in the HTML part."""
        message = render_message(
            channel=Channel.EMAIL,
            to="alice@example.com",
            code="482913",
            verification_id="vf_" + "0" * 32,
            policy=Policy(brand_name="<b>Acme</b>"),
            locale=locale,
        )
        assert message.html is not None
        assert "<b>Acme</b>" not in message.html
        assert "&lt;b&gt;Acme&lt;/b&gt;" in message.html


class TestSms:
    """The SMS of every locale fits one GSM-7 segment, in the worst case."""

    @pytest.mark.parametrize("locale", GSM7_LOCALES)
    def test_fits_one_segment(self, locale: str) -> None:
        """At most 160 septets with the longest code, brand, lifetime and WebOTP domain."""
        text = worst_case_sms(locale).text
        assert septets(text) <= SEGMENT_SEPTETS, (septets(text), text)

    @pytest.mark.parametrize("locale", UCS2_LOCALES)
    def test_fits_one_ucs2_segment(self, locale: str) -> None:
        """Scripts GSM-7 lacks: at most 70 UCS-2 characters, WebOTP line included."""
        text = worst_case_sms(locale, UCS2_CASE).text
        with pytest.raises(ValueError, match="not GSM-7"):
            septets(text)
        assert ucs2_units(text) <= SEGMENT_UCS2_UNITS, (ucs2_units(text), text)

    @pytest.mark.parametrize("locale", LOCALES)
    def test_starts_with_the_code(self, locale: str) -> None:
        """The code comes first, where a lock-screen preview shows it."""
        assert worst_case_sms(locale).text.startswith("0123456789 ")

    @pytest.mark.parametrize("locale", LOCALES)
    def test_ends_with_the_webotp_line(self, locale: str) -> None:
        """The last line is WebOTP's origin-bound one: @domain #code."""
        text = worst_case_sms(locale).text
        assert "@verification.login.example.com #0123456789" == text.splitlines()[-1]

    def test_no_webotp_line_without_a_domain(self) -> None:
        """Without a WebOTP domain in the policy, the SMS is the template alone."""
        message = render_message(
            channel=Channel.SMS,
            to="+14155550100",
            code="123456",
            verification_id="vf_" + "0" * 32,
            policy=Policy(brand_name="Acme"),
            locale="fr",
        )
        expected = (
            "123456 est votre code de vérification Acme. Valable 10 min. "
            "Ne le communiquez à personne."
        )
        assert expected == message.text


class TestLocaleResolution:
    """The requested locale, narrowed to a shipped language, else the policy's, else English."""

    @pytest.mark.parametrize(
        ("requested", "default", "expected"),
        [
            ("pt-BR", "en", "pt"),
            ("de_AT", "en", "de"),
            ("ES", "en", "es"),
            ("ja", "fr", "ja"),
            ("zh-TW", "en", "zh"),
            ("ko", "fr", "fr"),
            (None, "de", "de"),
            ("ko", "xx", "en"),
        ],
    )
    def test_resolve(self, requested: str | None, default: str, expected: str) -> None:
        """Region and case are ignored; unknown languages fall back."""
        assert expected == resolve_locale(requested, Policy(default_locale=default))

    @pytest.mark.parametrize(
        ("requested", "country", "expected"),
        [
            (None, "IT", "it"),
            (None, "BR", "pt"),
            (None, "sa", "ar"),
            ("sv", "JP", "sv"),
            ("ko", "JP", "ja"),
            (None, "KR", "fr"),
            (None, None, "fr"),
        ],
    )
    def test_country_comes_between_request_and_default(
        self, requested: str | None, country: str | None, expected: str
    ) -> None:
        """The request's locale, else the number's country's, else the client's default."""
        assert expected == resolve_locale(requested, Policy(default_locale="fr"), country)

    def test_every_country_names_a_shipped_locale(self) -> None:
        """The country table only points at locales that ship."""
        assert set(LOCALE_OF_COUNTRY.values()) <= available_locales()
