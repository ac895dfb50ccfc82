"""
Real delivery through the HTTP API: settings name Twilio and SMTP, the app builds the real senders,
and they talk to servers on the loopback. Verifications complete, failures end in a problem and a
``failed`` verification, and Twilio's status callback is recorded only when signed.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
import redis
from flask.testing import FlaskClient

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.models import Channel
from otp_service.delivery.smtp_email import SmtpEmailSender
from otp_service.services import Services
from otp_service.web.context import EXTENSION_KEY
from tests.servers import LOOPBACK, free_port
from tests.servers.silent import SilentServer
from tests.servers.smtp import Mailbox, SmtpServer, plain_text
from tests.servers.tls import Certificate
from tests.servers.twilio_double import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FROM_NUMBER,
    TwilioDouble,
    sign_callback,
)
from tests.support import EMAIL, PHONE, FakeClock, auth, code_in

PUBLIC_BASE_URL = "https://otp.example.com"
CREDENTIALS = ("otp-service", "s3cret-password")
MakeClient = Callable[..., FlaskClient]


@pytest.fixture(name="delivery_settings")
def _delivery_settings(
    settings: Settings, twilio_double: TwilioDouble, smtp_server: SmtpServer
) -> Settings:
    """The test settings with OTP_SMS_PROVIDER=twilio and OTP_EMAIL_PROVIDER=smtp."""
    return dataclasses.replace(
        settings,
        sms_provider="twilio",
        email_provider="smtp",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from=FROM_NUMBER,
        twilio_api_base=twilio_double.url,
        smtp_host=LOOPBACK,
        smtp_port=smtp_server.port,
        smtp_tls="none",
        email_from="Acme <no-reply@acme.test>",
        delivery_timeout_seconds=2.0,
        public_base_url=PUBLIC_BASE_URL,
    )


@pytest.fixture(name="make_client")
def _make_client(
    delivery_settings: Settings, clock: FakeClock, redis_client: redis.Redis
) -> Iterator[MakeClient]:
    """Build an app from the delivery settings (with overrides); its senders closed afterwards."""
    made: list[Services] = []

    def make(senders: dict[Channel, Any] | None = None, **overrides: Any) -> FlaskClient:
        app = create_app(
            dataclasses.replace(delivery_settings, **overrides), clock=clock, senders=senders
        )
        made.append(app.extensions[EXTENSION_KEY])
        return app.test_client()

    yield make
    for services in made:
        for sender in services.senders.values():
            close = getattr(sender, "close", None)
            if close is not None:
                close()


@pytest.fixture(name="web")
def _web(make_client: MakeClient) -> FlaskClient:
    """A client of the app with the delivery settings as they are."""
    return make_client()


def start(web: FlaskClient, to: str, channel: str) -> Any:
    """POST /v1/verifications."""
    return web.post("/v1/verifications", json={"to": to, "channel": channel}, headers=auth())


def check(web: FlaskClient, verification_id: str, code: str) -> Any:
    """POST /v1/verifications/{id}/check."""
    return web.post(
        f"/v1/verifications/{verification_id}/check", json={"code": code}, headers=auth()
    )


def status_of(web: FlaskClient, verification_id: str) -> dict[str, Any]:
    """GET /v1/verifications/{id}, which must succeed."""
    response = web.get(f"/v1/verifications/{verification_id}", headers=auth())
    assert 200 == response.status_code, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def assert_failed(web: FlaskClient, response: Any, status: int, slug: str) -> dict[str, Any]:
    """``response`` is the problem ``slug``, and the verification it names is ``failed``."""
    problem: dict[str, Any] = response.get_json()
    assert (status, f"/problems/{slug}") == (response.status_code, problem["type"])
    assert "application/problem+json" == response.mimetype
    assert "failed" == status_of(web, problem["verification_id"])["status"]
    return problem


class TestSms:
    """An SMS verification through Twilio's API."""

    def test_verification_completes(self, web: FlaskClient, twilio_double: TwilioDouble) -> None:
        """Start, read the code from what Twilio received, check: approved."""
        started = start(web, PHONE, "sms")
        assert (201, "queued") == (started.status_code, started.get_json()["delivery_status"])
        (request,) = twilio_double.messages_to(PHONE)
        checked = check(web, started.get_json()["id"], code_in(request.field("Body") or ""))
        assert (200, "approved") == (checked.status_code, checked.get_json()["status"])

    def test_message_comes_from_the_configured_number(
        self, web: FlaskClient, twilio_double: TwilioDouble
    ) -> None:
        """The account and the sending number are the configured ones."""
        start(web, PHONE, "sms")
        (request,) = twilio_double.messages_to(PHONE)
        assert f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json" == request.path
        assert FROM_NUMBER == request.field("From")

    def test_the_sms_expires_with_the_code(
        self, web: FlaskClient, twilio_double: TwilioDouble
    ) -> None:
        """ValidityPeriod is the code's lifetime (600 s by default), not Twilio's 10 h."""
        start(web, PHONE, "sms")
        (request,) = twilio_double.messages_to(PHONE)
        assert "600" == request.field("ValidityPeriod")

    @pytest.mark.parametrize(
        ("code", "http_status"),
        [(21211, 400), (21610, 400), (21614, 400)],
        ids=["invalid", "unsubscribed", "landline"],
    )
    def test_refused_destination_is_422(
        self, web: FlaskClient, twilio_double: TwilioDouble, code: int, http_status: int
    ) -> None:
        """Twilio refuses the number: 422 invalid-destination, verification failed."""
        twilio_double.fail_with(http_status, code, f"Twilio's own words about {PHONE}")
        problem = assert_failed(web, start(web, PHONE, "sms"), 422, "invalid-destination")
        assert PHONE not in problem["detail"]

    @pytest.mark.parametrize(
        ("http_status", "code", "retryable"),
        [(503, 20503, True), (429, 20429, True), (401, 20003, False)],
    )
    def test_provider_refusal_is_502(
        self,
        web: FlaskClient,
        twilio_double: TwilioDouble,
        http_status: int,
        code: int,
        retryable: bool,
    ) -> None:
        """Twilio errors: 502 delivery-failed saying whether to retry, verification failed."""
        twilio_double.fail_with(http_status, code)
        response = start(web, PHONE, "sms")
        problem = assert_failed(web, response, 502, "delivery-failed")
        assert retryable == problem["retryable"]
        assert retryable == ("Retry-After" in response.headers)

    def test_unreachable_twilio_is_retryable_502(self, make_client: MakeClient) -> None:
        """Nothing listens at the API base: 502, retryable."""
        web = make_client(twilio_api_base=f"http://{LOOPBACK}:{free_port()}")
        problem = assert_failed(web, start(web, PHONE, "sms"), 502, "delivery-failed")
        assert problem["retryable"] is True

    def test_silent_twilio_times_out_as_retryable_502(
        self, make_client: MakeClient, silent_server: SilentServer
    ) -> None:
        """Twilio accepts the connection and never answers: 502 after the timeout, retryable."""
        web = make_client(twilio_api_base=silent_server.url, delivery_timeout_seconds=0.5)
        problem = assert_failed(web, start(web, PHONE, "sms"), 502, "delivery-failed")
        assert problem["retryable"] is True


def callback(twilio_double: TwilioDouble) -> tuple[str, str]:
    """The status callback URL the (only) message asked for: full, and as path + query."""
    (request,) = twilio_double.messages_to(PHONE)
    url = request.field("StatusCallback") or ""
    parts = urlsplit(url)
    return url, f"{parts.path}?{parts.query}"


def report(web: FlaskClient, path: str, params: dict[str, str], signature: str | None) -> Any:
    """POST a status callback the way Twilio does (form-encoded, signed)."""
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    return web.post(path, data=params, headers=headers)


class TestStatusCallback:
    """POST /v1/webhooks/twilio/status records delivery statuses, signed requests only."""

    PARAMS: ClassVar = {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": "SM" + "1" * 32,
        "MessageStatus": "delivered",
        "To": PHONE,
    }

    def test_signed_status_is_recorded(self, web: FlaskClient, twilio_double: TwilioDouble) -> None:
        """A signed 'delivered' is answered 204 and shows in GET /v1/verifications/{id}."""
        verification_id = start(web, PHONE, "sms").get_json()["id"]
        url, path = callback(twilio_double)
        response = report(web, path, self.PARAMS, sign_callback(AUTH_TOKEN, url, self.PARAMS))
        assert 204 == response.status_code
        assert "delivered" == status_of(web, verification_id)["delivery_status"]

    @pytest.mark.parametrize(
        "signature", [None, "", "bm90IGEgc2lnbmF0dXJl"], ids=["missing", "empty", "wrong"]
    )
    def test_unsigned_status_is_403(
        self, web: FlaskClient, twilio_double: TwilioDouble, signature: str | None
    ) -> None:
        """No valid signature: 403 invalid-signature, and nothing is recorded."""
        verification_id = start(web, PHONE, "sms").get_json()["id"]
        _, path = callback(twilio_double)
        response = report(web, path, self.PARAMS, signature)
        assert (403, "/problems/invalid-signature") == (
            response.status_code,
            response.get_json()["type"],
        )
        assert "queued" == status_of(web, verification_id)["delivery_status"]

    def test_signature_for_another_token_is_403(
        self, web: FlaskClient, twilio_double: TwilioDouble
    ) -> None:
        """Signed, but not with our account's auth token: 403."""
        start(web, PHONE, "sms")
        url, path = callback(twilio_double)
        response = report(web, path, self.PARAMS, sign_callback("other-token", url, self.PARAMS))
        assert 403 == response.status_code

    def test_without_public_base_url_every_callback_is_403(
        self, make_client: MakeClient, twilio_double: TwilioDouble
    ) -> None:
        """Without OTP_PUBLIC_BASE_URL nothing can be verified, so nothing is accepted."""
        web = make_client(public_base_url="")
        path = "/v1/webhooks/twilio/status?verification_id=vf_" + "0" * 32
        url = PUBLIC_BASE_URL + path
        response = report(web, path, self.PARAMS, sign_callback(AUTH_TOKEN, url, self.PARAMS))
        assert 403 == response.status_code

    def test_other_statuses_are_ignored(
        self, web: FlaskClient, twilio_double: TwilioDouble
    ) -> None:
        """Intermediate statuses (sending, accepted) are acknowledged and not recorded."""
        verification_id = start(web, PHONE, "sms").get_json()["id"]
        url, path = callback(twilio_double)
        params = {**self.PARAMS, "MessageStatus": "sending"}
        response = report(web, path, params, sign_callback(AUTH_TOKEN, url, params))
        assert 204 == response.status_code
        assert "queued" == status_of(web, verification_id)["delivery_status"]

    def test_undelivered_is_recorded_without_changing_the_status(
        self, web: FlaskClient, twilio_double: TwilioDouble
    ) -> None:
        """The carrier could not deliver: recorded; the code stays checkable until it expires."""
        verification_id = start(web, PHONE, "sms").get_json()["id"]
        url, path = callback(twilio_double)
        params = {**self.PARAMS, "MessageStatus": "undelivered", "ErrorCode": "30003"}
        report(web, path, params, sign_callback(AUTH_TOKEN, url, params))
        shown = status_of(web, verification_id)
        assert ("pending", "undelivered") == (shown["status"], shown["delivery_status"])

    def test_a_late_sent_does_not_hide_delivered(
        self, web: FlaskClient, twilio_double: TwilioDouble
    ) -> None:
        """Callbacks arrive out of order: 'sent' after 'delivered' leaves 'delivered'."""
        verification_id = start(web, PHONE, "sms").get_json()["id"]
        url, path = callback(twilio_double)
        for status in ("delivered", "sent"):
            params = {**self.PARAMS, "MessageStatus": status}
            assert (
                204 == report(web, path, params, sign_callback(AUTH_TOKEN, url, params)).status_code
            )
        assert "delivered" == status_of(web, verification_id)["delivery_status"]


def received_code(mailbox: Mailbox) -> str:
    """The code in the text part of the (only) email received."""
    (message,) = mailbox.messages()
    return code_in(plain_text(message))


class TestEmail:
    """An email verification through SMTP."""

    def test_verification_completes(self, web: FlaskClient, mailbox: Mailbox) -> None:
        """Start, read the code from what the SMTP server received, check: approved."""
        started = start(web, EMAIL, "email")
        assert (201, "sent") == (started.status_code, started.get_json()["delivery_status"])
        checked = check(web, started.get_json()["id"], received_code(mailbox))
        assert (200, "approved") == (checked.status_code, checked.get_json()["status"])

    def test_verification_completes_over_starttls_with_login(
        self, make_client: MakeClient, certificate: Certificate, mailbox: Mailbox
    ) -> None:
        """The same over STARTTLS with AUTH (the production setting)."""
        with SmtpServer(
            mailbox, tls="starttls", certificate=certificate, credentials=CREDENTIALS
        ) as server:
            sender = SmtpEmailSender(
                host=LOOPBACK,
                port=server.port,
                email_from="no-reply@acme.test",
                username=CREDENTIALS[0],
                password=CREDENTIALS[1],
                ssl_context=certificate.client_context(),
            )
            web = make_client(senders={Channel.EMAIL: sender})
            started = start(web, EMAIL, "email")
            checked = check(web, started.get_json()["id"], received_code(mailbox))
        assert (200, "approved") == (checked.status_code, checked.get_json()["status"])

    def test_refused_connection_is_retryable_502(self, make_client: MakeClient) -> None:
        """Nothing listens on the SMTP port: 502, retryable."""
        web = make_client(smtp_port=free_port())
        problem = assert_failed(web, start(web, EMAIL, "email"), 502, "delivery-failed")
        assert problem["retryable"] is True

    def test_silent_server_times_out_as_retryable_502(
        self, make_client: MakeClient, silent_server: SilentServer
    ) -> None:
        """The server never greets: 502 after the timeout, retryable."""
        web = make_client(smtp_port=silent_server.port, delivery_timeout_seconds=0.5)
        problem = assert_failed(web, start(web, EMAIL, "email"), 502, "delivery-failed")
        assert problem["retryable"] is True

    def test_wrong_password_is_502_for_good(
        self, make_client: MakeClient, certificate: Certificate, mailbox: Mailbox
    ) -> None:
        """The server refuses our credentials: 502, not retryable."""
        with SmtpServer(
            mailbox, tls="starttls", certificate=certificate, credentials=CREDENTIALS
        ) as server:
            sender = SmtpEmailSender(
                host=LOOPBACK,
                port=server.port,
                email_from="no-reply@acme.test",
                username=CREDENTIALS[0],
                password="wrong",
                ssl_context=certificate.client_context(),
            )
            web = make_client(senders={Channel.EMAIL: sender})
            problem = assert_failed(web, start(web, EMAIL, "email"), 502, "delivery-failed")
        assert problem["retryable"] is False

    @pytest.mark.parametrize(
        ("reply", "retryable"),
        [("554 5.6.0 Message rejected", False), ("451 4.3.0 Try again later", True)],
    )
    def test_refused_message_is_502(
        self, web: FlaskClient, mailbox: Mailbox, reply: str, retryable: bool
    ) -> None:
        """A 5xx reply fails for good, a 4xx one may work later: 502 either way."""
        mailbox.data_reply = reply
        problem = assert_failed(web, start(web, EMAIL, "email"), 502, "delivery-failed")
        assert retryable == problem["retryable"]

    def test_unknown_mailbox_is_422(self, web: FlaskClient, mailbox: Mailbox) -> None:
        """The server says there is no such mailbox: 422 invalid-destination."""
        mailbox.rcpt_reply = "550 5.1.1 No such user here"
        assert_failed(web, start(web, EMAIL, "email"), 422, "invalid-destination")

    def test_failed_destination_can_start_again(self, web: FlaskClient, mailbox: Mailbox) -> None:
        """A failed delivery leaves nothing behind: the next start is a new verification."""
        mailbox.data_reply = "451 4.3.0 Try again later"
        failed = start(web, EMAIL, "email").get_json()["verification_id"]
        mailbox.data_reply = None
        started = start(web, EMAIL, "email")
        assert 201 == started.status_code
        assert failed != started.get_json()["id"]


class TestWhatsAppAndVoice:
    """The WhatsApp and voice channels through Twilio, end to end."""

    def test_a_whatsapp_code_approves(
        self, make_client: MakeClient, twilio_double: TwilioDouble
    ) -> None:
        """The code in the template's variable is the verification's code."""
        web = make_client(
            twilio_whatsapp_from=FROM_NUMBER, twilio_whatsapp_content_sid="HX" + "0" * 32
        )
        started = start(web, PHONE, "whatsapp")
        assert (201, "whatsapp") == (started.status_code, started.get_json()["channel"])
        (request,) = [r for r in twilio_double.requests if r.field("To") == f"whatsapp:{PHONE}"]
        code = json.loads(request.field("ContentVariables") or "")["1"]
        checked = check(web, started.get_json()["id"], code)
        assert "approved" == checked.get_json()["status"]

    def test_a_call_reads_the_code_that_approves(
        self, make_client: MakeClient, twilio_double: TwilioDouble
    ) -> None:
        """The digits the call says are the verification's code."""
        web = make_client(twilio_voice_from=FROM_NUMBER)
        started = start(web, PHONE, "voice")
        (request,) = [r for r in twilio_double.requests if r.path.endswith("/Calls.json")]
        spoken = (request.field("Twiml") or "").split(": ", 1)[1].split(".")[0]
        code = spoken.replace(", ", "")
        assert "approved" == check(web, started.get_json()["id"], code).get_json()["status"]

    def test_a_channel_without_its_sender_is_refused(self, web: FlaskClient) -> None:
        """No OTP_TWILIO_VOICE_FROM: the voice channel has no provider (403)."""
        response = start(web, PHONE, "voice")
        assert (403, "/problems/channel-not-allowed") == (
            response.status_code,
            response.get_json()["type"],
        )


@pytest.mark.parametrize(
    ("call_status", "recorded"), [("no-answer", "undelivered"), ("completed", "delivered")]
)
def test_a_calls_status_is_its_delivery_status(
    make_client: MakeClient, twilio_double: TwilioDouble, call_status: str, recorded: str
) -> None:
    """Twilio reports a call's CallStatus: no answer did not deliver the code, answered did."""
    web = make_client(twilio_voice_from=FROM_NUMBER)
    verification_id = start(web, PHONE, "voice").get_json()["id"]
    (request,) = [r for r in twilio_double.requests if r.path.endswith("/Calls.json")]
    url = request.field("StatusCallback") or ""
    parts = urlsplit(url)
    params = {"CallSid": "CA" + "0" * 32, "CallStatus": call_status, "AccountSid": ACCOUNT_SID}
    response = report(
        web, f"{parts.path}?{parts.query}", params, sign_callback(AUTH_TOKEN, url, params)
    )
    assert 204 == response.status_code
    assert recorded == status_of(web, verification_id)["delivery_status"]


class TestFallback:
    """``channels``: the next channel gets a new code at once when a provider refuses one."""

    def _web(self, make_client: MakeClient) -> FlaskClient:
        return make_client(
            twilio_whatsapp_from=FROM_NUMBER, twilio_whatsapp_content_sid="HX" + "0" * 32
        )

    def _start(self, web: FlaskClient, channels: list[str]) -> Any:
        body = {"to": PHONE, "channels": channels}
        return web.post("/v1/verifications", json=body, headers=auth())

    def test_a_refused_whatsapp_falls_back_to_sms_with_a_new_code(
        self, make_client: MakeClient, twilio_double: TwilioDouble
    ) -> None:
        """WhatsApp refused (no account): the SMS code approves; the WhatsApp one never does."""
        web = self._web(make_client)
        twilio_double.fail_with(400, 63003, to_prefix="whatsapp:")
        started = self._start(web, ["whatsapp", "sms"])
        body = started.get_json()
        assert (201, "sms", 3) == (started.status_code, body["channel"], body["sends_remaining"])
        assert ["whatsapp", "sms"] == [attempt["channel"] for attempt in body["send_attempts"]]
        whatsapp = next(r for r in twilio_double.requests if r.field("To") == f"whatsapp:{PHONE}")
        refused_code = json.loads(whatsapp.field("ContentVariables") or "")["1"]
        (sms,) = twilio_double.messages_to(PHONE)
        sms_code = code_in(sms.field("Body") or "")
        assert refused_code != sms_code
        wrong = check(web, body["id"], refused_code).get_json()
        assert (False, "pending") == (wrong["valid"], wrong["status"])
        assert "approved" == check(web, body["id"], sms_code).get_json()["status"]

    def test_when_every_channel_refuses_the_verification_failed(
        self, make_client: MakeClient, twilio_double: TwilioDouble
    ) -> None:
        """Both refused: the last refusal is the answer, and the verification is failed."""
        web = self._web(make_client)
        twilio_double.fail_with(400, 21211)
        response = self._start(web, ["whatsapp", "sms"])
        problem = assert_failed(web, response, 422, "invalid-destination")
        assert 2 == len(status_of(web, problem["verification_id"])["send_attempts"])

    def test_a_channel_without_a_sender_is_refused_at_the_start(self, web: FlaskClient) -> None:
        """No voice sender: refused before anything is sent (403)."""
        response = self._start(web, ["sms", "voice"])
        assert 403 == response.status_code

    @pytest.mark.parametrize(
        "body",
        [
            {"to": PHONE, "channel": "sms", "channels": ["sms"]},
            {"to": PHONE},
            {"to": PHONE, "channels": ["sms", "sms"]},
            {"to": PHONE, "channels": []},
        ],
        ids=["both", "neither", "repeated", "empty"],
    )
    def test_channel_or_channels_exactly_once(self, web: FlaskClient, body: dict[str, Any]) -> None:
        """One way to name the channels, each channel once: else 422."""
        response = web.post("/v1/verifications", json=body, headers=auth())
        assert 422 == response.status_code


def test_an_undelivered_sms_falls_back_to_a_call(
    make_client: MakeClient, twilio_double: TwilioDouble
) -> None:
    """Twilio reports the SMS undelivered: the next channel (a call) reads a new code."""
    web = make_client(twilio_voice_from=FROM_NUMBER)
    body = {"to": PHONE, "channels": ["sms", "voice"]}
    started = web.post("/v1/verifications", json=body, headers=auth()).get_json()
    url, path = callback(twilio_double)
    sms_code = code_in(twilio_double.messages_to(PHONE)[0].field("Body") or "")
    params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert 204 == report(web, path, params, sign_callback(AUTH_TOKEN, url, params)).status_code
    (call,) = [r for r in twilio_double.requests if r.path.endswith("/Calls.json")]
    call_code = code_in(call.field("Twiml") or "")
    shown = status_of(web, started["id"])
    assert ("voice", ["sms", "voice"]) == (
        shown["channel"],
        [attempt["channel"] for attempt in shown["send_attempts"]],
    )
    assert not check(web, started["id"], sms_code).get_json()["valid"]
    assert "approved" == check(web, started["id"], call_code).get_json()["status"]


def test_an_undelivered_sms_with_no_fallback_stays_as_it_is(
    web: FlaskClient, twilio_double: TwilioDouble
) -> None:
    """A start with one channel: undelivered is recorded, nothing else is sent."""
    started = start(web, PHONE, "sms").get_json()
    url, path = callback(twilio_double)
    params = {"MessageSid": "SM" + "0" * 32, "MessageStatus": "undelivered"}
    report(web, path, params, sign_callback(AUTH_TOKEN, url, params))
    assert 1 == len(twilio_double.requests)
    assert "undelivered" == status_of(web, started["id"])["delivery_status"]
