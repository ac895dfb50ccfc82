"""
WhatsApp and voice through the real ``twilio`` client: against Twilio's OpenAPI contract (Prism,
behind a recording double) and the errors Twilio answers.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from otp_service.config.settings import Settings
from otp_service.core.errors import DeliveryFailed, InvalidDestination, InvalidRequest
from otp_service.core.models import Channel, OutboundMessage, Policy
from otp_service.core.transactions import Transaction
from otp_service.delivery.twilio_sms import twilio_client
from otp_service.delivery.twilio_voice import TwilioVoiceSender
from otp_service.delivery.twilio_whatsapp import TwilioWhatsAppSender
from otp_service.verify.destinations import parse_destination
from otp_service.verify.messages import render_message
from tests.servers.prism import Prism
from tests.servers.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioDouble
from tests.support import PHONE

VERIFICATION_ID = "vf_" + "0123456789abcdef" * 2
CONTENT_SID = "HX" + "0123456789abcdef" * 2
LANDLINE = "+442072193000"


def _twilio(api_base: str) -> Any:
    settings = Settings(
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base=api_base,
        delivery_timeout_seconds=5.0,
    )
    return twilio_client(settings)


def _message(channel: Channel, to: str = PHONE, locale: str = "en") -> OutboundMessage:
    return render_message(
        channel=channel,
        to=to,
        code="123456",
        verification_id=VERIFICATION_ID,
        policy=Policy(brand_name="Acme"),
        locale=locale,
    )


def _requests(double: TwilioDouble, resource: str) -> list[Any]:
    return [r for r in double.requests if r.path.endswith(f"/{resource}.json")]


class TestWhatsApp:
    def test_the_template_carries_the_code_between_whatsapp_numbers(self, prism: Prism) -> None:
        """whatsapp: numbers, the approved template, the code as its variable, and no Body."""
        with TwilioDouble(upstream=prism.url) as recorder:
            sender = TwilioWhatsAppSender(
                _twilio(recorder.url), from_=FROM_NUMBER, content_sid=CONTENT_SID
            )
            receipt = sender.send(_message(Channel.WHATSAPP))
        (request,) = _requests(recorder, "Messages")
        assert (f"whatsapp:{PHONE}", f"whatsapp:{FROM_NUMBER}") == (
            request.field("To"),
            request.field("From"),
        )
        assert CONTENT_SID == request.field("ContentSid")
        assert {"1": "123456"} == json.loads(request.field("ContentVariables") or "")
        assert request.field("Body") is None
        assert receipt.message_id.startswith("SM")

    @pytest.mark.parametrize(
        ("code", "error"),
        [(63003, InvalidDestination), (63016, DeliveryFailed)],
        ids=["no-whatsapp-account", "free-form-refused"],
    )
    def test_twilio_errors_are_clear_problems(
        self, twilio_double: TwilioDouble, code: int, error: type[Exception]
    ) -> None:
        """A number without WhatsApp is a 422; a template problem a 502 that will not pass later."""
        twilio_double.fail_with(400, code)
        sender = TwilioWhatsAppSender(
            _twilio(twilio_double.url), from_=FROM_NUMBER, content_sid=CONTENT_SID
        )
        with pytest.raises(error) as raised:
            sender.send(_message(Channel.WHATSAPP))
        assert not getattr(raised.value, "retryable", False)
        assert "WhatsApp" in str(raised.value)


class TestVoice:
    def test_the_call_reads_the_code_digit_by_digit_twice(self, prism: Prism) -> None:
        """The Calls request carries TwiML saying each digit, twice, with a pause."""
        with TwilioDouble(upstream=prism.url) as recorder:
            TwilioVoiceSender(_twilio(recorder.url), from_=FROM_NUMBER).send(
                _message(Channel.VOICE)
            )
        (request,) = _requests(recorder, "Calls")
        twiml = request.field("Twiml") or ""
        assert (PHONE, FROM_NUMBER) == (request.field("To"), request.field("From"))
        assert 2 == twiml.count("1, 2, 3, 4, 5, 6")
        assert "<Pause" in twiml
        assert 'language="en-US"' in twiml

    def test_the_call_speaks_the_verifications_language(self, twilio_double: TwilioDouble) -> None:
        """A German verification is read in German; a locale with no script, in English."""
        sender = TwilioVoiceSender(_twilio(twilio_double.url), from_=FROM_NUMBER)
        sender.send(_message(Channel.VOICE, locale="de"))
        sender.send(_message(Channel.VOICE, locale="ja"))
        german, fallback = (r.field("Twiml") or "" for r in _requests(twilio_double, "Calls"))
        assert 'language="de-DE"' in german
        assert "Bestätigungscode" in german
        assert 'language="en-US"' in fallback
        assert "verification code" in fallback


def test_a_landline_may_take_a_call_but_not_a_text() -> None:
    """Voice accepts a landline; SMS and WhatsApp refuse it."""
    assert LANDLINE == parse_destination(Channel.VOICE, LANDLINE).to
    for channel in (Channel.SMS, Channel.WHATSAPP):
        with pytest.raises(InvalidRequest):
            parse_destination(channel, LANDLINE)


def test_a_call_names_the_transaction_it_authorises() -> None:
    """PSD2: the voice script says the amount and the payee, as the SMS does."""
    message = render_message(
        channel=Channel.VOICE,
        to=PHONE,
        code="123456",
        verification_id=VERIFICATION_ID,
        policy=Policy(brand_name="Acme"),
        locale="en",
        transaction=Transaction("EUR 42.50", "Acme Ltd"),
    )
    assert "EUR 42.50" in message.text
    assert "Acme Ltd" in message.text
