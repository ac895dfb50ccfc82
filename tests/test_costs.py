"""What a check costs: exactly one argon2 operation, and none on any rejection."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from otp_service.core.codes import CodeHasher
from otp_service.core.errors import (
    InvalidRequest,
    ResendTooSoon,
    TooManyAttempts,
    VerificationNotFound,
)
from otp_service.core.models import Channel, Client, Policy, Scope
from otp_service.core.transactions import Transaction
from otp_service.verify.service import VerificationService
from otp_service.verify.store import RedisStore
from tests.support import NAME_KEY, PEPPER, PHONE, CapturingSender, FakeClock

CLIENT = Client("acme", "0" * 64, frozenset(Scope), Policy(max_attempts=2))


class CountingHasher(CodeHasher):
    """The real hasher, counting its argon2 operations."""

    def __init__(self) -> None:
        super().__init__(PEPPER, "test")
        self.operations = 0

    def hash(self, scope: str, code: str, transaction: Transaction | None = None) -> str:
        self.operations += 1
        return super().hash(scope, code, transaction)

    def verify(
        self, encoded_hash: str, scope: str, code: str, transaction: Transaction | None = None
    ) -> bool:
        self.operations += 1
        return super().verify(encoded_hash, scope, code, transaction)


@pytest.fixture(name="engine")
def _engine(
    redis_client: redis.Redis, prefix: str
) -> tuple[VerificationService, CountingHasher, CapturingSender]:
    hasher = CountingHasher()
    sender = CapturingSender()
    service = VerificationService(
        RedisStore(redis_client, prefix, name_key=NAME_KEY),
        hasher,
        {Channel.SMS: sender},
        FakeClock(),
    )
    return service, hasher, sender


def test_a_check_is_one_argon2_operation(
    engine: tuple[VerificationService, CountingHasher, CapturingSender],
) -> None:
    """Start hashes once; a wrong and a right check verify once each."""
    service, hasher, sender = engine
    verification = service.start(CLIENT, Channel.SMS, PHONE).verification
    assert 1 == hasher.operations
    code = sender.last_code(PHONE)
    service.check(CLIENT, verification.id, f"{(int(code) + 1) % 10**6:06d}")
    assert 2 == hasher.operations
    assert service.check(CLIENT, verification.id, code).valid
    assert 3 == hasher.operations


@pytest.mark.parametrize(
    ("case", "refusal"),
    [
        ("unknown", VerificationNotFound),
        ("foreign", VerificationNotFound),
        ("locked", TooManyAttempts),
        ("malformed", InvalidRequest),
        ("used", VerificationNotFound),
        ("resend-too-soon", ResendTooSoon),
    ],
)
def test_rejections_cost_no_argon2(
    engine: tuple[VerificationService, CountingHasher, CapturingSender],
    case: str,
    refusal: type[Exception],
) -> None:
    """Unknown, another client's, locked, malformed, used and too-soon requests hash nothing."""
    service, hasher, sender = engine
    verification = service.start(CLIENT, Channel.SMS, PHONE).verification
    code = sender.last_code(PHONE)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    if case == "locked":
        service.check(CLIENT, verification.id, wrong)
        service.check(CLIENT, verification.id, wrong)
    if case == "used":
        service.check(CLIENT, verification.id, code)
    before = hasher.operations
    other = Client("globex", "1" * 64, frozenset(Scope), Policy())
    attempts: dict[str, Callable[[], object]] = {
        "unknown": lambda: service.check(CLIENT, "vf_" + "0" * 32, code),
        "foreign": lambda: service.check(other, verification.id, code),
        "locked": lambda: service.check(CLIENT, verification.id, code),
        "malformed": lambda: service.check(CLIENT, verification.id, "1234"),
        "used": lambda: service.check(CLIENT, verification.id, code),
        "resend-too-soon": lambda: service.start(CLIENT, Channel.SMS, PHONE),
    }
    with pytest.raises(refusal):
        attempts[case]()
    assert before == hasher.operations
