"""
The messages people receive, in every shipped locale: complete, within one GSM-7 SMS segment,
and with the WebOTP line last.
"""

from __future__ import annotations

from typing import Final

import pytest

from otp_service.core.models import Channel, OutboundMessage, Policy
from otp_service.verify.messages import available_locales, render_message, resolve_locale

LOCALES: Final = ("en", "es", "fr", "de", "pt")
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


def worst_case_sms(locale: str) -> OutboundMessage:
    """The longest SMS of ``locale``."""
    return render_message(
        channel=Channel.SMS,
        to="+14155550100",
        verification_id="vf_" + "0" * 32,
        locale=locale,
        code=str(WORST_CASE["code"]),
        policy=WORST_CASE["policy"],  # type: ignore[arg-type]
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
        """At least English, Spanish, French, German and Portuguese."""
        assert set(LOCALES) <= available_locales()

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
        assert f'<html lang="{locale}">' in message.html

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

    @pytest.mark.parametrize("locale", LOCALES)
    def test_fits_one_segment(self, locale: str) -> None:
        """At most 160 septets with the longest code, brand, lifetime and WebOTP domain."""
        text = worst_case_sms(locale).text
        assert septets(text) <= SEGMENT_SEPTETS, (septets(text), text)

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
            ("ja", "fr", "fr"),
            (None, "de", "de"),
            ("ja", "ko", "en"),
        ],
    )
    def test_resolve(self, requested: str | None, default: str, expected: str) -> None:
        """Region and case are ignored; unknown languages fall back."""
        assert expected == resolve_locale(requested, Policy(default_locale=default))
