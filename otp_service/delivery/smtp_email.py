"""
SmtpEmailSender: email through an SMTP relay with ``smtplib`` (STARTTLS, implicit TLS or none).

One connection per message, with a timeout on connecting and on every reply. Every failure
becomes ``DeliveryFailed`` (retryable for 4xx replies and network trouble), or
``InvalidDestination`` when the server says the mailbox does not exist.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Final

from otp_service.core.errors import DeliveryFailed, InvalidDestination
from otp_service.core.models import OutboundMessage, Receipt, mask_destination

logger = logging.getLogger("otp_service.delivery.smtp")

TLS_MODES: Final = ("none", "starttls", "ssl")
#: Reply codes that refuse a mailbox as such (RFC 5321 section 4.2.3) ...
_MAILBOX_REFUSALS: Final = frozenset({550, 551, 553})
#: ... unless an enhanced status code says the cause is something else (RFC 3463: 5.1.x is
#: "addressing"; 5.7.x policy, e.g. relaying denied, is our configuration, not the address).
_ENHANCED_STATUS: Final = re.compile(r"^\s*([245])\.(\d{1,3})\.\d{1,3}\b")


class SmtpEmailSender:
    """
    Sends multipart (text + HTML) email through one SMTP server.

    Args:
        host, port: the SMTP server.
        email_from: the ``From`` header (``Name <address>`` or a bare address).
        tls: ``starttls`` (upgrade, never fall back to plain), ``ssl`` (implicit TLS) or ``none``.
        username, password: log in when ``username`` is set.
        timeout_seconds: for connecting and for each reply.
        ssl_context: the TLS settings (default: the system's trusted CAs, hostname checked).
    """

    provider = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        email_from: str,
        tls: str = "starttls",
        username: str = "",
        password: str = "",
        timeout_seconds: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {', '.join(TLS_MODES)}")
        self._host = host
        self._port = port
        self._from = email_from
        self._domain = parseaddr(email_from)[1].rpartition("@")[2] or None
        self._tls = tls
        self._login = (username, password) if username else None
        self._timeout_seconds = timeout_seconds
        self._ssl_context = ssl_context or ssl.create_default_context()

    def send(self, message: OutboundMessage) -> Receipt:
        """
        Send ``message`` as one email.

        Raises:
            InvalidDestination: the server says the mailbox does not exist.
            DeliveryFailed: refused (retryable for 4xx), authentication failed, TLS or the
                connection failed, or the server did not answer in time (retryable).
        """
        email = self._compose(message)
        try:
            self._transmit(email, message.to)
        except smtplib.SMTPRecipientsRefused as error:
            raise _recipient_refused(error, message.to) from error
        except smtplib.SMTPAuthenticationError as error:
            logger.warning("SMTP login refused (reply %s)", error.smtp_code)
            raise DeliveryFailed(
                "The email provider refused our credentials.", retryable=False
            ) from error
        except smtplib.SMTPResponseException as error:
            raise _refused(error.smtp_code, error.smtp_error, message.to) from error
        except (smtplib.SMTPException, OSError) as error:
            raise _unreachable(error) from error
        return Receipt(self.provider, email["Message-ID"].strip("<>"), "sent")

    def _compose(self, message: OutboundMessage) -> EmailMessage:
        email = EmailMessage()
        try:
            email["From"] = self._from
            email["To"] = message.to
            email["Subject"] = message.subject or ""
            email["Date"] = formatdate(usegmt=True)
            email["Message-ID"] = make_msgid(domain=self._domain)
            # RFC 3834: an automatic message; out-of-office replies should not answer it.
            email["Auto-Submitted"] = "auto-generated"
            email.set_content(message.text)
            if message.html:
                email.add_alternative(message.html, subtype="html")
        except ValueError as error:  # e.g. a CR or LF in a header value
            raise DeliveryFailed("The email could not be composed.", retryable=False) from error
        return email

    def _transmit(self, email: EmailMessage, recipient: str) -> None:
        with self._session([]) as smtp:
            # The validated address is the envelope recipient, not what a parser reads from To:.
            smtp.send_message(email, to_addrs=[recipient])

    def handshake(self, steps: list[str]) -> None:
        """
        Connect, EHLO, STARTTLS and AUTH as a send does, then QUIT: nothing is sent.

        Each step that passed is appended to ``steps``.

        Raises:
            smtplib.SMTPException, OSError: a step failed (the one after the last in ``steps``).
        """
        with self._session(steps):
            pass

    @contextmanager
    def _session(self, steps: list[str]) -> Iterator[smtplib.SMTP]:
        """A connection ready to send (TLS and login done), closed with QUIT; ``steps`` grows."""
        if self._tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self._host, self._port, timeout=self._timeout_seconds, context=self._ssl_context
            )
        else:
            smtp = smtplib.SMTP(self._host, self._port, timeout=self._timeout_seconds)
        steps.append("connect (TLS)" if self._tls == "ssl" else "connect")
        with smtp:
            smtp.ehlo()
            steps.append("EHLO")
            if self._tls == "starttls":
                smtp.starttls(context=self._ssl_context)
                steps.append("STARTTLS")
            if self._login is not None:
                smtp.login(*self._login)
                steps.append("AUTH")
            yield smtp


def _reply_text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _is_mailbox_refusal(code: int, reply: str) -> bool:
    enhanced = _ENHANCED_STATUS.match(reply)
    if enhanced is not None:
        return enhanced.group(1) == "5" and enhanced.group(2) == "1"
    return code in _MAILBOX_REFUSALS


def _recipient_refused(
    error: smtplib.SMTPRecipientsRefused, to: str
) -> InvalidDestination | DeliveryFailed:
    code, reply = next(iter(error.recipients.values()), (0, b""))
    text = _reply_text(reply)
    if _is_mailbox_refusal(code, text):
        logger.warning("SMTP server refused the recipient (reply %s)", code)
        return InvalidDestination("The email address does not exist.")
    return _refused(code, reply, to)


def _refused(code: int, reply: bytes | str, to: str) -> DeliveryFailed:
    # The server's words go to the log (recipient masked); the caller gets a fixed sentence.
    logger.warning(
        "SMTP server refused the message: %s",
        _reply_text(reply).replace(to, mask_destination(to)),
        extra={"smtp_code": code},
    )
    if 400 <= code < 500:
        return DeliveryFailed(
            "The email provider is busy or unavailable; try again later.", retryable=True
        )
    return DeliveryFailed("The email provider refused the message.", retryable=False)


def _unreachable(error: smtplib.SMTPException | OSError) -> DeliveryFailed:
    logger.warning("SMTP delivery failed: %s", type(error).__name__)
    if isinstance(error, ssl.SSLCertVerificationError | smtplib.SMTPNotSupportedError):
        # An untrusted certificate or a server without STARTTLS/AUTH: retrying will not help.
        return DeliveryFailed(
            "The email provider's TLS or features do not match our settings.", retryable=False
        )
    return DeliveryFailed("The email provider could not be reached.", retryable=True)
