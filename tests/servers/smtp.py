"""
A real SMTP server on the loopback (aiosmtpd) that keeps what it receives; its replies, TLS
mode and credentials are chosen by the test.
"""

from __future__ import annotations

import email
import logging
import threading
from email.message import EmailMessage
from email.policy import default as default_policy
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.servers import LOOPBACK, free_port
from tests.servers.tls import Certificate

# aiosmtpd warns about its own deprecated attribute on every AUTH; nothing for us to act on.
logging.getLogger("mail.log").setLevel(logging.ERROR)


class Mailbox:
    """An aiosmtpd handler: keeps every message, or answers the reply a test scripted."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        """Accept the recipient, unless a refusal was scripted."""
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        """Keep the message, unless a refusal was scripted."""
        if self.data_reply is not None:
            return self.data_reply
        with self._lock:
            self.envelopes.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        """Every message received, parsed."""
        with self._lock:
            envelopes = list(self.envelopes)
        parsed = []
        for envelope in envelopes:
            assert isinstance(envelope.content, bytes)  # aiosmtpd's default: data not decoded
            parsed.append(email.message_from_bytes(envelope.content, policy=default_policy))
        return parsed


def plain_text(message: EmailMessage) -> str:
    """The text/plain body of a received message."""
    body = message.get_body(("plain",))
    assert body is not None, message
    text: str = body.get_content()
    return text


class PasswordCheck:
    """An aiosmtpd authenticator that knows one user."""

    def __init__(self, username: str, password: str) -> None:
        self._login = (username.encode(), password.encode())

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """Success only for the one user's password."""
        is_valid = isinstance(data, LoginPassword) and (data.login, data.password) == self._login
        return AuthResult(success=is_valid, handled=False)


class SmtpServer:
    """
    aiosmtpd on a free loopback port.

    Args:
        tls: ``none``, ``starttls`` (required before mail) or ``ssl`` (implicit TLS).
        credentials: require AUTH with this user and password (needs TLS).
    """

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        tls: str = "none",
        certificate: Certificate | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        options: dict[str, Any] = {}
        if tls == "starttls":
            assert certificate is not None
            options.update(tls_context=certificate.server_context(), require_starttls=True)
        if tls == "ssl":
            assert certificate is not None
            options.update(ssl_context=certificate.server_context())
        if credentials is not None:
            options.update(authenticator=PasswordCheck(*credentials), auth_required=True)
        self.port = free_port()
        self.mailbox = mailbox
        self._controller = Controller(
            mailbox, hostname=LOOPBACK, port=self.port, server_hostname="mx.test", **options
        )

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._controller.stop()
