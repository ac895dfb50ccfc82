"""
Destination validation: phones to E.164 (``phonenumbers``), emails normalised
(``email-validator``, no DNS). Anything else is a 422 field error on ``to``.
"""

from __future__ import annotations

import pytest

from otp_service.core.errors import FieldError, InvalidRequest
from otp_service.core.models import Channel, canonical_destination, destination_digest
from otp_service.verify.destinations import Destination, parse_destination, parse_email, parse_phone
from tests.support import NAME_KEY


def refusal(raw: str, channel: Channel | None = None, default_region: str = "") -> FieldError:
    """The one field error ``raw`` is refused with."""
    with pytest.raises(InvalidRequest) as raised:
        parse_destination(channel, raw, default_region)
    (error,) = raised.value.errors
    return error


class TestPhone:
    """Phone numbers become E.164; only numbers that can receive an SMS pass."""

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("+14155550100", Destination(Channel.SMS, "+14155550100", "US")),
            ("+1 (415) 555-0100", Destination(Channel.SMS, "+14155550100", "US")),
            ("+49 170 1234567", Destination(Channel.SMS, "+491701234567", "DE")),
            ("+34 612 34 56 78", Destination(Channel.SMS, "+34612345678", "ES")),
            ("+351 912 345 678", Destination(Channel.SMS, "+351912345678", "PT")),
            ("+33 6 12 34 56 78", Destination(Channel.SMS, "+33612345678", "FR")),
        ],
    )
    def test_mobile_numbers_are_normalised(self, raw: str, expected: Destination) -> None:
        """Spaces, dashes and brackets go; the country is kept for per-country limits."""
        assert expected == parse_phone(raw)

    @pytest.mark.parametrize(
        "raw",
        [
            "+44 20 7946 0018",  # London fixed line
            "+49 30 123456",  # Berlin fixed line
            "+1 800 555 0100",  # toll-free
            "+1 900 555 0100",  # premium rate, the classic SMS-pumping target
            "+33 8 92 70 12 34",  # French premium rate
        ],
    )
    def test_numbers_that_cannot_receive_sms_are_refused(self, raw: str) -> None:
        """Fixed lines, toll-free and premium-rate numbers get a clear field error."""
        assert FieldError("to", "cannot receive SMS (not a mobile number)") == refusal(raw)

    @pytest.mark.parametrize("raw", ["+1234", "+1415555010", "+999 123 456 789", "+"])
    def test_invalid_numbers_are_refused(self, raw: str) -> None:
        """Too short, wrong length, or no such country code."""
        error = refusal(raw, Channel.SMS)
        assert "to" == error.field
        assert error.message in ("is not a valid phone number", "is not a phone number")

    def test_national_form_needs_a_default_region(self) -> None:
        """Without OTP_DEFAULT_REGION a number must carry its country code."""
        assert FieldError(
            "to", "must start with + and the country code, such as +14155550100"
        ) == refusal("(415) 555-0100", Channel.SMS)

    @pytest.mark.parametrize(
        ("raw", "region", "expected"),
        [("(415) 555-0100", "US", "+14155550100"), ("06 12 34 56 78", "FR", "+33612345678")],
    )
    def test_default_region_completes_national_numbers(
        self, raw: str, region: str, expected: str
    ) -> None:
        """With a default region a national number gets that country's code."""
        assert expected == parse_phone(raw, region).to

    def test_country_code_wins_over_default_region(self) -> None:
        """A number in international form keeps its own country."""
        assert Destination(Channel.SMS, "+14155550100", "US") == parse_phone("+14155550100", "DE")

    @pytest.mark.parametrize("raw", ["+1-800-FLOWERS", "1-800-FLOWERS", "+1415555O100"])
    def test_vanity_letters_are_refused(self, raw: str) -> None:
        """Letters are refused, not translated to digits (nor a letter O read as zero)."""
        assert FieldError(
            "to", "must be a phone number in E.164 form, such as +14155550100"
        ) == refusal(raw, Channel.SMS, "US")

    @pytest.mark.parametrize(
        "raw",
        ["+14155550100\r\n", "+14155550100\nX-Injected: 1", "+1415555\r0100", "+14155550100\x00"],
    )
    def test_control_characters_are_refused(self, raw: str) -> None:
        """CR, LF and NUL never reach a provider request or a log line."""
        assert FieldError(
            "to", "must be a phone number in E.164 form, such as +14155550100"
        ) == refusal(raw, Channel.SMS)

    @pytest.mark.parametrize(
        "raw",
        [
            "+" + "".join(chr(0xFF10 + int(digit)) for digit in "14155550100"),  # fullwidth
            "+" + "".join(chr(0x0660 + int(digit)) for digit in "447700900123"),  # Arabic-Indic
            "\u202e+14155550100",  # right-to-left override
        ],
    )
    def test_non_ascii_is_refused(self, raw: str) -> None:
        """Look-alike digits of other scripts and invisible marks are refused, not read."""
        assert FieldError(
            "to", "must be a phone number in E.164 form, such as +14155550100"
        ) == refusal(raw, Channel.SMS)


class TestEmail:
    """Email addresses: syntax and normalisation only (no DNS look-ups)."""

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("alice@example.com", "alice@example.com"),
            ("Alice@EXAMPLE.com", "Alice@example.com"),
            ("alice+otp@mail.example.co.uk", "alice+otp@mail.example.co.uk"),
        ],
    )
    def test_addresses_are_normalised(self, raw: str, expected: str) -> None:
        """The domain is lower-cased; the local part is kept as given."""
        assert Destination(Channel.EMAIL, expected) == parse_email(raw)

    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("alice@bücher.de", "alice@bücher.de"),
            ("alice@xn--bcher-kva.de", "alice@bücher.de"),
            ("ålice@example.com", "ålice@example.com"),
        ],
    )
    def test_unicode_addresses_are_accepted(self, raw: str, expected: str) -> None:
        """Internationalised domains (also in punycode) and local parts are valid."""
        assert expected == parse_email(raw).to

    @pytest.mark.parametrize(
        "raw",
        [
            "alice",
            "alice@",
            "@example.com",
            "alice@@example.com",
            "alice@ex ample.com",
            "alice@localhost",
            '"alice smith"@example.com',
            "\talice@example.com",
        ],
    )
    def test_invalid_addresses_are_refused(self, raw: str) -> None:
        """Malformed or not deliverable-looking addresses get a field error."""
        assert FieldError("to", "is not a valid email address") == refusal(raw, Channel.EMAIL)

    @pytest.mark.parametrize(
        "raw",
        [
            "alice@example.com\r\nBcc: mallory@example.com",
            "alice@example.com\nBcc: mallory@example.com",
            "alice\r@example.com",
            "alice@example.com\n",
            "al\x00ice@example.com",
            "\u202ealice@example.com",
        ],
    )
    def test_header_injection_is_refused(self, raw: str) -> None:
        """CR, LF, NUL and bidi controls cannot smuggle headers into the email."""
        assert FieldError("to", "is not a valid email address") == refusal(raw, Channel.EMAIL)

    @pytest.mark.parametrize(
        "raw",
        [
            "=?utf-8?q?x=3E=2C=3Cattacker=40evil.example?=@corp.example",
            "=?utf-8?b?eD4sPGF0dGFja2VyQGV2aWwuZXhhbXBsZT4=?=@corp.example",
            "a=?x@corp.example",
        ],
    )
    def test_encoded_words_are_refused(self, raw: str) -> None:
        """An RFC 2047 encoded word in the local part is refused: mail libraries decode it."""
        assert "must have a plain local part" in refusal(raw, Channel.EMAIL).message

    def test_overlong_addresses_are_refused(self) -> None:
        """More than 254 characters is refused before any parsing."""
        raw = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".com"
        assert FieldError("to", "must be at most 254 characters") == refusal(raw, Channel.EMAIL)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("Victim@Corp.Example", "victim@corp.example"),
        ("victim+otp@corp.example", "victim@corp.example"),
        ("VICTIM+a+b@CORP.example", "victim@corp.example"),
        ("alice@bücher.de", "alice@xn--bcher-kva.de"),
        ("alice@BÜCHER.de", "alice@xn--bcher-kva.de"),
        ("+14155550100", "+14155550100"),
    ],
)
def test_canonical_destination(given: str, canonical: str) -> None:
    """Limits key an email on lowercase, IDNA, +tag removed; a phone number on its E.164."""
    assert canonical == canonical_destination(given)
    assert destination_digest(given, NAME_KEY) == destination_digest(canonical, NAME_KEY)


class TestChannelGuess:
    """Without a channel, the form of ``to`` decides."""

    @pytest.mark.parametrize(
        ("raw", "channel"),
        [("alice@example.com", Channel.EMAIL), ("+14155550100", Channel.SMS)],
    )
    def test_channel_follows_the_form(self, raw: str, channel: Channel) -> None:
        """An @ means email; anything else is read as a phone number."""
        assert channel == parse_destination(None, raw).channel

    def test_email_on_the_sms_channel_is_refused(self) -> None:
        """An address given for SMS is not a phone number."""
        assert "to" == refusal("alice@example.com", Channel.SMS).field


def test_surrounding_whitespace_is_ignored() -> None:
    """A number or address pasted with spaces around it is read as the same destination."""
    assert "+14155550100" == parse_destination(None, " +14155550100 ").to
    assert "alice@example.com" == parse_destination(None, " alice@example.com  ").to
