"""
TwilioSmsSender with the real ``twilio`` client: against Prism (Twilio's OpenAPI contract), a
recording Twilio double, a refused port and a server that never answers.
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import ClassVar

import pytest

from otp_service.core.errors import DeliveryFailed, InvalidDestination
from otp_service.core.models import Channel, OutboundMessage, Policy
from otp_service.delivery.twilio_sms import signature_is_valid, status_callback_url
from otp_service.verify.messages import render_message
from tests.delivery.support import MakeTwilioSender, captured_logs
from tests.servers import LOOPBACK, free_port
from tests.servers.prism import Prism
from tests.servers.silent import SilentServer
from tests.servers.twilio_double import (
    AUTH_TOKEN,
    FROM_NUMBER,
    MESSAGING_SERVICE_SID,
    TwilioDouble,
    sign_callback,
)
from tests.support import PHONE

VERIFICATION_ID = "vf_" + "0123456789abcdef" * 2
PUBLIC_BASE_URL = "https://otp.example.com"


def sms(text: str = "123456 is your Acme verification code.") -> OutboundMessage:
    """An SMS to the test phone."""
    return OutboundMessage(Channel.SMS, PHONE, text, VERIFICATION_ID)


class TestContract:
    """Requests the real client makes pass Twilio's OpenAPI document (validated by Prism)."""

    def test_send_is_accepted(self, prism: Prism, make_twilio_sender: MakeTwilioSender) -> None:
        """A message is accepted and the receipt carries Twilio's SID and status."""
        receipt = make_twilio_sender(prism.url).send(sms())
        assert ("twilio", "queued") == (receipt.provider, receipt.status)
        assert receipt.message_id.startswith("SM")

    def test_from_number_is_sent_as_from(
        self, prism: Prism, make_twilio_sender: MakeTwilioSender
    ) -> None:
        """Without a Messaging Service the sending number goes in From, and Prism accepts it."""
        with TwilioDouble(upstream=prism.url) as recorder:
            receipt = make_twilio_sender(recorder.url).send(sms())
        (request,) = recorder.messages_to(PHONE)
        assert (FROM_NUMBER, None) == (request.field("From"), request.field("MessagingServiceSid"))
        assert "queued" == receipt.status

    def test_messaging_service_is_sent_instead_of_from(
        self, prism: Prism, make_twilio_sender: MakeTwilioSender
    ) -> None:
        """With a Messaging Service SID the message goes through the service, without From."""
        with TwilioDouble(upstream=prism.url) as recorder:
            sender = make_twilio_sender(recorder.url, messaging_service_sid=MESSAGING_SERVICE_SID)
            receipt = sender.send(sms())
        (request,) = recorder.messages_to(PHONE)
        assert (None, MESSAGING_SERVICE_SID) == (
            request.field("From"),
            request.field("MessagingServiceSid"),
        )
        assert receipt.message_id.startswith("SM")

    def test_status_callback_names_the_verification(
        self, prism: Prism, make_twilio_sender: MakeTwilioSender
    ) -> None:
        """With a public base URL, the message asks Twilio to report to the webhook."""
        with TwilioDouble(upstream=prism.url) as recorder:
            make_twilio_sender(recorder.url, public_base_url=PUBLIC_BASE_URL + "/").send(sms())
        (request,) = recorder.messages_to(PHONE)
        expected = f"{PUBLIC_BASE_URL}/v1/webhooks/twilio/status?verification_id={VERIFICATION_ID}"
        assert expected == request.field("StatusCallback")

    def test_the_message_expires_with_its_code(
        self, prism: Prism, make_twilio_sender: MakeTwilioSender
    ) -> None:
        """ValidityPeriod is the code's remaining lifetime (Twilio would queue it for 10 h)."""
        message = dataclasses.replace(sms(), valid_seconds=540)
        with TwilioDouble(upstream=prism.url) as recorder:
            make_twilio_sender(recorder.url).send(message)
        (request,) = recorder.messages_to(PHONE)
        assert "540" == request.field("ValidityPeriod")

    def test_no_status_callback_without_public_base_url(
        self, twilio_double: TwilioDouble, make_twilio_sender: MakeTwilioSender
    ) -> None:
        """Without a public base URL there is nowhere to report to: no callback is asked for."""
        make_twilio_sender(twilio_double.url).send(sms())
        (request,) = twilio_double.messages_to(PHONE)
        assert request.field("StatusCallback") is None

    @pytest.mark.parametrize(
        ("account_sid", "auth_token"), [("AC" + "0" * 32, ""), ("", "")], ids=["token", "both"]
    )
    def test_missing_credentials_fail_for_good(
        self,
        prism: Prism,
        make_twilio_sender: MakeTwilioSender,
        account_sid: str,
        auth_token: str,
    ) -> None:
        """Without credentials Twilio refuses the request: delivery fails, not retryable."""
        sender = make_twilio_sender(prism.url, account_sid=account_sid, auth_token=auth_token)
        with pytest.raises(DeliveryFailed) as raised:
            sender.send(sms())
        assert raised.value.retryable is False


class TestNetwork:
    """Network trouble is a retryable failure, bounded by the timeout."""

    def test_refused_connection_is_retryable(self, make_twilio_sender: MakeTwilioSender) -> None:
        """Nothing listening on the API's port: retryable."""
        sender = make_twilio_sender(f"http://{LOOPBACK}:{free_port()}")
        with pytest.raises(DeliveryFailed) as raised:
            sender.send(sms())
        assert raised.value.retryable is True

    def test_silent_server_times_out(
        self, silent_server: SilentServer, make_twilio_sender: MakeTwilioSender
    ) -> None:
        """A server that never answers: retryable, after the timeout and not much later."""
        sender = make_twilio_sender(silent_server.url, timeout_seconds=0.5)
        started = time.monotonic()
        with pytest.raises(DeliveryFailed) as raised:
            sender.send(sms())
        elapsed = time.monotonic() - started
        assert raised.value.retryable is True
        assert 0.4 <= elapsed < 3.0, elapsed

    def test_unexpected_answer_is_retryable(
        self, twilio_double: TwilioDouble, make_twilio_sender: MakeTwilioSender
    ) -> None:
        """A 201 that is not a Message (a proxy's page) is a retryable failure, not a crash."""
        twilio_double.answer_with(201, b"<html>captive portal</html>")
        with pytest.raises(DeliveryFailed) as raised:
            make_twilio_sender(twilio_double.url).send(sms())
        assert raised.value.retryable is True


class TestErrorMapping:
    """Twilio's errors, raised by the real client as TwilioRestException, become ours."""

    @pytest.mark.parametrize("code", [21211, 21614, 21610, 21408, 21612])
    def test_destination_errors_are_invalid_destination(
        self, twilio_double: TwilioDouble, make_twilio_sender: MakeTwilioSender, code: int
    ) -> None:
        """Invalid, landline, unsubscribed or unreachable numbers are the destination's fault."""
        twilio_double.fail_with(400, code)
        with pytest.raises(InvalidDestination):
            make_twilio_sender(twilio_double.url).send(sms())

    @pytest.mark.parametrize(
        ("status", "code", "retryable"),
        [
            (429, 20429, True),
            (500, 20500, True),
            (503, 20503, True),
            (401, 20003, False),
            (400, 21606, False),
            (404, 20404, False),
        ],
    )
    def test_other_errors_are_delivery_failures(
        self,
        twilio_double: TwilioDouble,
        make_twilio_sender: MakeTwilioSender,
        status: int,
        code: int,
        retryable: bool,
    ) -> None:
        """429 and 5xx may work later; other refusals will not."""
        twilio_double.fail_with(status, code)
        with pytest.raises(DeliveryFailed) as raised:
            make_twilio_sender(twilio_double.url).send(sms())
        assert retryable == raised.value.retryable

    def test_problem_shaped_errors_are_mapped_too(
        self, twilio_double: TwilioDouble, make_twilio_sender: MakeTwilioSender
    ) -> None:
        """Twilio's newer RFC 9457 error bodies (TwilioServiceException) map the same way."""
        body = {"type": "https://twilio.com/e/21211", "title": "Invalid To", "status": 400}
        twilio_double.answer_with(400, json.dumps({**body, "code": 21211}).encode())
        with pytest.raises(InvalidDestination):
            make_twilio_sender(twilio_double.url).send(sms())

    def test_vendor_message_stays_out_of_detail(
        self, twilio_double: TwilioDouble, make_twilio_sender: MakeTwilioSender
    ) -> None:
        """The caller never sees Twilio's own words (nor the number they quote)."""
        vendor = f"The 'To' number {PHONE} is not a valid phone number."
        twilio_double.fail_with(400, 21211, vendor)
        with pytest.raises(InvalidDestination) as raised:
            make_twilio_sender(twilio_double.url).send(sms())
        assert vendor not in raised.value.detail
        assert PHONE not in raised.value.detail

    def test_vendor_message_is_logged_masked(
        self, twilio_double: TwilioDouble, make_twilio_sender: MakeTwilioSender
    ) -> None:
        """Operators get Twilio's words, status and code in the log, the number masked."""
        twilio_double.fail_with(400, 21211, f"The 'To' number {PHONE} is not valid.")
        with (
            captured_logs("otp_service.delivery.twilio") as records,
            pytest.raises(InvalidDestination),
        ):
            make_twilio_sender(twilio_double.url).send(sms())
        (record,) = records
        assert "+1415*****00" in record.getMessage()
        assert PHONE not in record.getMessage()
        assert (400, 21211) == (record.twilio_status, record.twilio_code)  # type: ignore[attr-defined]


class TestBody:
    """What the person receives, as the Twilio API receives it."""

    def test_body_is_the_rendered_message(
        self, twilio_double: TwilioDouble, make_twilio_sender: MakeTwilioSender
    ) -> None:
        """The SMS body is the English template with the code, brand and lifetime."""
        message = render_message(
            channel=Channel.SMS,
            to=PHONE,
            code="123456",
            verification_id=VERIFICATION_ID,
            policy=Policy(brand_name="Acme"),
            locale="en",
        )
        make_twilio_sender(twilio_double.url).send(message)
        (request,) = twilio_double.messages_to(PHONE)
        expected = "123456 is your Acme verification code. It expires in 10 min. Never share it."
        assert expected == request.field("Body")

    def test_body_ends_with_the_webotp_line(
        self, twilio_double: TwilioDouble, make_twilio_sender: MakeTwilioSender
    ) -> None:
        """With a WebOTP domain, the last line binds the code to the origin (@domain #code)."""
        message = render_message(
            channel=Channel.SMS,
            to=PHONE,
            code="123456",
            verification_id=VERIFICATION_ID,
            policy=Policy(brand_name="Acme", webotp_domain="login.acme.com"),
            locale="de",
        )
        make_twilio_sender(twilio_double.url).send(message)
        (request,) = twilio_double.messages_to(PHONE)
        body = request.field("Body") or ""
        assert "@login.acme.com #123456" == body.splitlines()[-1]
        assert body.startswith("123456 ist Ihr Acme-Bestätigungscode.")


class TestSignature:
    """``signature_is_valid`` accepts exactly what Twilio signs."""

    URL = status_callback_url(PUBLIC_BASE_URL, VERIFICATION_ID)
    PARAMS: ClassVar = {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered"}

    def test_twilio_signature_is_valid(self) -> None:
        """A signature made with the auth token over URL and params is accepted."""
        signature = sign_callback(AUTH_TOKEN, self.URL, self.PARAMS)
        assert signature_is_valid(AUTH_TOKEN, self.URL, self.PARAMS, signature) is True

    def test_other_token_is_not_valid(self) -> None:
        """A signature made with another token is refused."""
        signature = sign_callback("someone-else", self.URL, self.PARAMS)
        assert signature_is_valid(AUTH_TOKEN, self.URL, self.PARAMS, signature) is False

    def test_changed_params_are_not_valid(self) -> None:
        """A signed request whose status was changed on the way is refused."""
        signature = sign_callback(AUTH_TOKEN, self.URL, self.PARAMS)
        changed = {**self.PARAMS, "MessageStatus": "failed"}
        assert signature_is_valid(AUTH_TOKEN, self.URL, changed, signature) is False

    def test_other_url_is_not_valid(self) -> None:
        """A signature for another verification's URL is refused."""
        signature = sign_callback(AUTH_TOKEN, self.URL, self.PARAMS)
        other = status_callback_url(PUBLIC_BASE_URL, "vf_" + "f" * 32)
        assert signature_is_valid(AUTH_TOKEN, other, self.PARAMS, signature) is False

    @pytest.mark.parametrize(("token", "signature"), [("", "x"), (AUTH_TOKEN, "")])
    def test_empty_token_or_signature_is_not_valid(self, token: str, signature: str) -> None:
        """No token configured, or no signature sent: never valid."""
        assert signature_is_valid(token, self.URL, self.PARAMS, signature) is False
