"""
Choose the sender of each channel from settings (no loading classes by name: practice 24).
"""

from __future__ import annotations

from otp_service.delivery import Sender
from otp_service.delivery.dev import DevSender
from otp_service.models import Channel
from otp_service.settings import Settings
from otp_service.store import RedisStore


def build_senders(settings: Settings, store: RedisStore) -> dict[Channel, Sender]:
    """One sender per enabled channel; a channel whose provider is ``none`` has none."""
    senders: dict[Channel, Sender] = {}
    if settings.sms_provider == "dev":
        senders[Channel.SMS] = DevSender(store)
    if settings.email_provider == "dev":
        senders[Channel.EMAIL] = DevSender(store)
    return senders
