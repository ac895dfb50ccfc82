"""
SmtpEmailSender against a real SMTP server on the loopback (aiosmtpd): what the server receives,
each TLS mode, and every way delivery fails.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest

from otp_service.core.errors import DeliveryFailed, InvalidDestination
from otp_service.core.models import Channel, OutboundMessage, Policy
from otp_service.delivery.smtp_email import SmtpEmailSender
from otp_service.verify.messages import render_message
from tests.delivery.support import captured_logs
from tests.servers import LOOPBACK, free_port
from tests.servers.silent import SilentServer
from tests.servers.smtp import Mailbox, SmtpServer, plain_text
from tests.servers.tls import Certificate
from tests.support import EMAIL

CODE = "482913"
FROM = "Acme <no-reply@acme.test>"
CREDENTIALS = ("otp-service", "s3cret-password")


def email_message(locale: str = "en") -> OutboundMessage:
    """The email the service sends to the test address."""
    return render_message(
        channel=Channel.EMAIL,
        to=EMAIL,
        code=CODE,
        verification_id="vf_" + "a" * 32,
        policy=Policy(brand_name="Acme"),
        locale=locale,
    )


def sender_for(port: int, **options: object) -> SmtpEmailSender:
    """A sender to a loopback server (plain unless told otherwise)."""
    settings: dict[str, object] = {"tls": "none", "timeout_seconds": 5.0, **options}
    return SmtpEmailSender(host=LOOPBACK, port=port, email_from=FROM, **settings)  # type: ignore[arg-type]


def refusal(sender: SmtpEmailSender) -> DeliveryFailed:
    """The DeliveryFailed that sending the test email raises."""
    with pytest.raises(DeliveryFailed) as raised:
        sender.send(email_message())
    return raised.value


class TestWhatArrives:
    """The server receives one well-formed multipart message."""

    def test_envelope_goes_from_the_sender_to_the_recipient(
        self, smtp_server: SmtpServer, mailbox: Mailbox
    ) -> None:
        """MAIL FROM is the From address and RCPT TO the destination."""
        sender_for(smtp_server.port).send(email_message())
        (envelope,) = mailbox.envelopes
        assert ("no-reply@acme.test", [EMAIL]) == (envelope.mail_from, envelope.rcpt_tos)

    def test_headers(self, smtp_server: SmtpServer, mailbox: Mailbox) -> None:
        """From, To and the rendered Subject are set."""
        sender_for(smtp_server.port).send(email_message())
        (received,) = mailbox.messages()
        assert (FROM, EMAIL, f"Your Acme verification code: {CODE}") == (
            received["From"],
            received["To"],
            received["Subject"],
        )

    def test_message_id_is_on_the_from_domain(
        self, smtp_server: SmtpServer, mailbox: Mailbox
    ) -> None:
        """Message-ID is unique to the message, on the sender's domain, and is the receipt's id."""
        receipt = sender_for(smtp_server.port).send(email_message())
        (received,) = mailbox.messages()
        assert f"<{receipt.message_id}>" == received["Message-ID"]
        assert received["Message-ID"].endswith("@acme.test>")

    def test_date_is_now(self, smtp_server: SmtpServer, mailbox: Mailbox) -> None:
        """Date is set, and is the time of sending."""
        sender_for(smtp_server.port).send(email_message())
        (received,) = mailbox.messages()
        sent_at = parsedate_to_datetime(received["Date"])
        assert abs(datetime.now(UTC) - sent_at) < timedelta(minutes=1)

    def test_body_is_text_and_html_alternatives_with_the_code(
        self, smtp_server: SmtpServer, mailbox: Mailbox
    ) -> None:
        """multipart/alternative with a text and an HTML part, each carrying the code."""
        sender_for(smtp_server.port).send(email_message())
        (received,) = mailbox.messages()
        parts = {part.get_content_type(): part.get_content() for part in received.iter_parts()}
        assert "multipart/alternative" == received.get_content_type()
        assert ["text/html", "text/plain"] == sorted(parts)
        assert CODE in parts["text/plain"]
        assert CODE in parts["text/html"]

    def test_accents_survive(self, smtp_server: SmtpServer, mailbox: Mailbox) -> None:
        """A translated email arrives intact (UTF-8 subject and body)."""
        sender_for(smtp_server.port).send(email_message("pt"))
        (received,) = mailbox.messages()
        assert f"Seu código de verificação Acme: {CODE}" == received["Subject"]
        assert "Nunca compartilhe este código" in plain_text(received)


class TestTls:
    """STARTTLS with AUTH and implicit TLS, both with the certificate checked."""

    def test_starttls_with_login_delivers(self, certificate: Certificate, mailbox: Mailbox) -> None:
        """Upgrade, log in, send: the server (which requires both) receives the message."""
        with SmtpServer(
            mailbox, tls="starttls", certificate=certificate, credentials=CREDENTIALS
        ) as server:
            sender = sender_for(
                server.port,
                tls="starttls",
                username=CREDENTIALS[0],
                password=CREDENTIALS[1],
                ssl_context=certificate.client_context(),
            )
            sender.send(email_message())
        assert 1 == len(mailbox.envelopes)

    def test_implicit_tls_delivers(self, certificate: Certificate, mailbox: Mailbox) -> None:
        """OTP_SMTP_TLS=ssl speaks TLS from the first byte."""
        with SmtpServer(mailbox, tls="ssl", certificate=certificate) as server:
            sender = sender_for(server.port, tls="ssl", ssl_context=certificate.client_context())
            sender.send(email_message())
        assert 1 == len(mailbox.envelopes)

    def test_untrusted_certificate_fails_for_good(
        self, certificate: Certificate, mailbox: Mailbox
    ) -> None:
        """A certificate the system does not trust is refused, and retrying will not help."""
        with SmtpServer(mailbox, tls="starttls", certificate=certificate) as server:
            failure = refusal(sender_for(server.port, tls="starttls"))
        assert (False, []) == (failure.retryable, mailbox.envelopes)

    def test_no_fallback_to_plain_text(self, smtp_server: SmtpServer, mailbox: Mailbox) -> None:
        """A server without STARTTLS gets nothing when STARTTLS is configured."""
        failure = refusal(sender_for(smtp_server.port, tls="starttls"))
        assert (False, []) == (failure.retryable, mailbox.envelopes)


class TestFailures:
    """Every failure is one DeliveryFailed (or InvalidDestination) with the right retryability."""

    def test_refused_connection_is_retryable(self) -> None:
        """Nothing listening: retryable."""
        assert refusal(sender_for(free_port())).retryable is True

    def test_silent_server_times_out(self, silent_server: SilentServer) -> None:
        """No greeting: retryable, after the timeout and not much later."""
        started = time.monotonic()
        failure = refusal(sender_for(silent_server.port, timeout_seconds=0.5))
        assert failure.retryable is True
        assert 0.4 <= time.monotonic() - started < 3.0

    def test_wrong_password_fails_for_good(
        self, certificate: Certificate, mailbox: Mailbox
    ) -> None:
        """The server refuses our credentials: not retryable."""
        with SmtpServer(
            mailbox, tls="starttls", certificate=certificate, credentials=CREDENTIALS
        ) as server:
            sender = sender_for(
                server.port,
                tls="starttls",
                username=CREDENTIALS[0],
                password="wrong",
                ssl_context=certificate.client_context(),
            )
            failure = refusal(sender)
        assert (False, []) == (failure.retryable, mailbox.envelopes)

    @pytest.mark.parametrize(
        ("reply", "retryable"),
        [
            ("554 5.6.0 Message rejected", False),
            ("552 5.3.4 Message too big", False),
            ("451 4.3.0 Try again later", True),
            ("452 4.3.1 Insufficient storage", True),
        ],
    )
    def test_data_replies(
        self, smtp_server: SmtpServer, mailbox: Mailbox, reply: str, retryable: bool
    ) -> None:
        """A 5xx reply to the message fails for good; a 4xx one may work later."""
        mailbox.data_reply = reply
        assert retryable == refusal(sender_for(smtp_server.port)).retryable

    @pytest.mark.parametrize(
        ("reply", "retryable"),
        [
            ("550 5.7.1 Relaying denied", False),
            ("450 4.2.1 Mailbox busy", True),
            ("554 5.7.1 Sender blocked", False),
        ],
    )
    def test_recipient_refusals_that_are_not_about_the_address(
        self, smtp_server: SmtpServer, mailbox: Mailbox, reply: str, retryable: bool
    ) -> None:
        """Policy and busy refusals of RCPT are delivery failures, not a bad address."""
        mailbox.rcpt_reply = reply
        assert retryable == refusal(sender_for(smtp_server.port)).retryable

    @pytest.mark.parametrize(
        "reply",
        ["550 5.1.1 No such user here", "553 5.1.3 Bad recipient address syntax", "550 Unknown"],
    )
    def test_unknown_mailbox_is_invalid_destination(
        self, smtp_server: SmtpServer, mailbox: Mailbox, reply: str
    ) -> None:
        """The server says the mailbox does not exist: the destination is invalid (422)."""
        mailbox.rcpt_reply = reply
        with pytest.raises(InvalidDestination):
            sender_for(smtp_server.port).send(email_message())

    def test_server_words_stay_out_of_detail(
        self, smtp_server: SmtpServer, mailbox: Mailbox
    ) -> None:
        """The caller never sees the server's reply (it may quote the address)."""
        mailbox.data_reply = f"554 5.7.1 <{EMAIL}> rejected by policy"
        failure = refusal(sender_for(smtp_server.port))
        assert EMAIL not in failure.detail
        assert "policy" not in failure.detail

    def test_code_is_never_logged(self, smtp_server: SmtpServer, mailbox: Mailbox) -> None:
        """Failures are logged without the code (nor the full address)."""
        mailbox.data_reply = f"554 5.7.1 <{EMAIL}> rejected"
        with captured_logs("otp_service.delivery.smtp") as records:
            refusal(sender_for(smtp_server.port))
        assert records
        for record in records:
            assert CODE not in record.getMessage()
            assert EMAIL not in record.getMessage()

    def test_header_injection_is_refused(self, smtp_server: SmtpServer, mailbox: Mailbox) -> None:
        """A subject with a line break cannot add headers: nothing is sent."""
        message = email_message()
        injected = OutboundMessage(
            Channel.EMAIL,
            EMAIL,
            message.text,
            message.verification_id,
            subject="Your code\r\nBcc: attacker@example.com",
            html=message.html,
        )
        with pytest.raises(DeliveryFailed):
            sender_for(smtp_server.port).send(injected)
        assert [] == mailbox.envelopes


def test_envelope_recipient_is_the_address_as_given(
    smtp_server: SmtpServer, mailbox: Mailbox
) -> None:
    """RCPT TO and To: are the address as the caller gave it, tag and case kept."""
    given = "Alice+Login@Corp.example"
    message = email_message()
    sender_for(smtp_server.port).send(
        OutboundMessage(Channel.EMAIL, given, message.text, message.verification_id, subject="x")
    )
    (envelope,) = mailbox.envelopes
    assert [given] == envelope.rcpt_tos
    assert isinstance(envelope.content, bytes)
    assert f"To: {given}" in envelope.content.decode()
