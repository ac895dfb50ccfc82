"""
Services: the one object per app that holds the service's collaborators.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from otp_service.codes import CodeHasher
from otp_service.delivery import Sender
from otp_service.events import FanOut
from otp_service.models import Channel, Client
from otp_service.settings import Settings
from otp_service.store import RedisStore
from otp_service.totp import TotpService
from otp_service.verifications import VerificationService


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a request handler needs, built once in ``create_app``."""

    settings: Settings
    store: RedisStore
    hasher: CodeHasher
    senders: Mapping[Channel, Sender]
    verifications: VerificationService
    clients_by_key_hash: Mapping[str, Client]
    events: FanOut
    totp: TotpService
