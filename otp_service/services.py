"""
Services: the one object per app that holds the service's collaborators.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from otp_service.abuse import AbuseGuard
from otp_service.config.settings import Settings
from otp_service.core.codes import CodeHasher
from otp_service.core.events import FanOut
from otp_service.core.models import Channel, Client
from otp_service.delivery import Sender
from otp_service.fraud import FraudGuard
from otp_service.insights import Insights
from otp_service.jobs import JobQueue
from otp_service.outbound import Outbound
from otp_service.passkeys import PasskeyService
from otp_service.storage.dev_outbox import DevOutbox
from otp_service.totp.service import TotpService
from otp_service.verify.idempotency import Idempotency
from otp_service.verify.service import VerificationService
from otp_service.verify.store import RedisStore


@dataclass(frozen=True, slots=True)
class Services:
    """Everything a request handler needs, built once in ``create_app``."""

    settings: Settings
    store: RedisStore
    abuse: AbuseGuard
    fraud: FraudGuard
    outbox: DevOutbox
    hasher: CodeHasher
    senders: Mapping[Channel, Sender]
    verifications: VerificationService
    clients_by_key_hash: Mapping[str, Client]
    events: FanOut
    totp: TotpService
    idempotency: Idempotency
    insights: Insights
    passkeys: PasskeyService
    #: The job queue (None when no Redis can hold it) and the webhooks on it.
    jobs: JobQueue | None = None
    outbound: Outbound | None = None
