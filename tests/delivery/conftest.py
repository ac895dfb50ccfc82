"""
Fixtures of the delivery tests: Prism (session), a recording Twilio double, aiosmtpd servers, a
silent server, and Twilio senders that are closed after each test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from otp_service.config.settings import Settings
from otp_service.delivery.twilio_sms import TwilioSmsSender, twilio_client
from tests.delivery.support import MakeTwilioSender
from tests.servers.prism import Prism, PrismUnavailable, ensure_prism
from tests.servers.silent import SilentServer
from tests.servers.smtp import Mailbox, SmtpServer
from tests.servers.tls import Certificate, make_certificate
from tests.servers.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioDouble


@pytest.fixture(name="prism", scope="session")
def _prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prism]:
    """Prism serving Twilio's OpenAPI document (skips, saying why, when it cannot run here)."""
    try:
        executable = ensure_prism()
    except PrismUnavailable as reason:
        pytest.skip(f"Twilio contract tests need Prism: {reason}")
    with Prism(executable, tmp_path_factory.mktemp("prism") / "prism.log") as server:
        yield server


@pytest.fixture(name="certificate", scope="session")
def _certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(name="twilio_double")
def _twilio_double() -> Iterator[TwilioDouble]:
    """A recording Twilio REST API on the loopback."""
    with TwilioDouble() as double:
        yield double


@pytest.fixture(name="silent_server")
def _silent_server() -> Iterator[SilentServer]:
    """A server that accepts connections and never answers."""
    with SilentServer() as server:
        yield server


@pytest.fixture(name="mailbox")
def _mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture(name="smtp_server")
def _smtp_server(mailbox: Mailbox) -> Iterator[SmtpServer]:
    """A plain SMTP server (no TLS, no AUTH)."""
    with SmtpServer(mailbox) as server:
        yield server


@pytest.fixture(name="make_twilio_sender")
def _make_twilio_sender() -> Iterator[MakeTwilioSender]:
    """Build Twilio senders on the real client, aimed at a test server; closed afterwards."""
    made: list[TwilioSmsSender] = []

    def make(
        api_base: str,
        *,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        from_: str = FROM_NUMBER,
        messaging_service_sid: str = "",
        public_base_url: str = "",
        timeout_seconds: float = 5.0,
    ) -> TwilioSmsSender:
        settings = Settings(
            twilio_account_sid=account_sid,
            twilio_auth_token=auth_token,
            twilio_api_base=api_base,
            delivery_timeout_seconds=timeout_seconds,
        )
        sender = TwilioSmsSender(
            twilio_client(settings),
            from_=from_,
            messaging_service_sid=messaging_service_sid,
            public_base_url=public_base_url,
        )
        made.append(sender)
        return sender

    yield make
    for sender in made:
        sender.close()
