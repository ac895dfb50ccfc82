"""
Delivery: the ``Sender`` protocol, its adapters (Twilio SMS, SMTP email, the dev outbox), and the
choice of one sender per channel from settings.
"""

from __future__ import annotations

from otp_service.delivery.build import build_senders, smtp_sender
from otp_service.delivery.dev import Outbox
from otp_service.delivery.sender import Sender
from otp_service.delivery.twilio_sms import fetch_account_status

__all__ = ["Outbox", "Sender", "build_senders", "fetch_account_status", "smtp_sender"]
