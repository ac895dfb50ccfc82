"""
Choose the sender of each channel from settings (no loading classes by name).
"""

from __future__ import annotations

from otp_service.config.settings import Settings
from otp_service.core.models import PHONE_CHANNELS, Channel
from otp_service.delivery.dev import DevSender, Outbox
from otp_service.delivery.sender import Sender
from otp_service.delivery.smtp_email import SmtpEmailSender
from otp_service.delivery.twilio_sms import TwilioSmsSender, twilio_client
from otp_service.delivery.twilio_voice import TwilioVoiceSender
from otp_service.delivery.twilio_whatsapp import TwilioWhatsAppSender


def build_senders(settings: Settings, outbox: Outbox) -> dict[Channel, Sender]:
    """One sender per enabled channel; a channel whose provider is ``none`` has none."""
    senders: dict[Channel, Sender] = {}
    if settings.sms_provider == "dev":
        # The dev outbox takes every phone channel: WhatsApp and voice show there too.
        for channel in PHONE_CHANNELS:
            senders[channel] = DevSender(outbox)
    if settings.sms_provider == "twilio":
        senders.update(_twilio_senders(settings))
    if settings.email_provider == "dev":
        senders[Channel.EMAIL] = DevSender(outbox)
    if settings.email_provider == "smtp":
        senders[Channel.EMAIL] = smtp_sender(settings)
    return senders


def _twilio_senders(settings: Settings) -> dict[Channel, Sender]:
    """SMS, and WhatsApp and voice where their senders are configured, on one Twilio client."""
    client = twilio_client(settings)
    callbacks = settings.public_base_url
    senders: dict[Channel, Sender] = {
        Channel.SMS: TwilioSmsSender(
            client,
            from_=settings.twilio_from,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            public_base_url=callbacks,
        )
    }
    if settings.twilio_whatsapp_from:
        senders[Channel.WHATSAPP] = TwilioWhatsAppSender(
            client,
            from_=settings.twilio_whatsapp_from,
            content_sid=settings.twilio_whatsapp_content_sid,
            public_base_url=callbacks,
        )
    if settings.twilio_voice_from:
        senders[Channel.VOICE] = TwilioVoiceSender(
            client, from_=settings.twilio_voice_from, public_base_url=callbacks
        )
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
