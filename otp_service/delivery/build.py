"""
Choose the sender of each channel from settings (no loading classes by name).
"""

from __future__ import annotations

from otp_service.config.settings import Settings
from otp_service.core.models import Channel
from otp_service.delivery.dev import DevSender, Outbox
from otp_service.delivery.sender import Sender
from otp_service.delivery.smtp_email import SmtpEmailSender
from otp_service.delivery.twilio_sms import TwilioSmsSender, twilio_client


def build_senders(settings: Settings, outbox: Outbox) -> dict[Channel, Sender]:
    """One sender per enabled channel; a channel whose provider is ``none`` has none."""
    senders: dict[Channel, Sender] = {}
    if settings.sms_provider == "dev":
        senders[Channel.SMS] = DevSender(outbox)
    if settings.sms_provider == "twilio":
        senders[Channel.SMS] = TwilioSmsSender(
            twilio_client(settings),
            from_=settings.twilio_from,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            public_base_url=settings.public_base_url,
        )
    if settings.email_provider == "dev":
        senders[Channel.EMAIL] = DevSender(outbox)
    if settings.email_provider == "smtp":
        senders[Channel.EMAIL] = smtp_sender(settings)
    return senders


def smtp_sender(settings: Settings) -> SmtpEmailSender:
    """The SMTP sender the settings describe (also what ``check-config --probe`` connects with)."""
    return SmtpEmailSender(
        host=settings.smtp_host,
        port=settings.smtp_port,
        email_from=settings.email_from,
        tls=settings.smtp_tls,
        username=settings.smtp_username,
        password=settings.smtp_password,
        timeout_seconds=settings.delivery_timeout_seconds,
    )
