"""Subjects in key names: a keyed digest, and indexes written under a plain SHA-256 moved."""

from __future__ import annotations

import pytest
import redis

from otp_service.core.errors import FactorExists
from otp_service.totp.service import TotpService
from tests.support import FakeClock
from tests.totp.totp_support import SUBJECT, TotpRig, code_at, digest_hex, totp_client

CLIENT = totp_client()


@pytest.fixture(name="rig")
def _rig(redis_client: redis.Redis, prefix: str, clock: FakeClock) -> TotpRig:
    return TotpRig(redis_client, prefix, clock)


@pytest.fixture(name="service")
def _service(rig: TotpRig) -> TotpService:
    return rig.service()


def _keys(rig: TotpRig) -> list[str]:
    return sorted(str(key) for key in rig.redis_client.scan_iter(f"{rig.prefix}:*"))


def _make_legacy(rig: TotpRig, factor_id: str) -> str:
    """Put a factor's index and record back under the plain SHA-256 name (as before the change)."""
    store = rig.store
    keyed = store.subject_key(CLIENT.name, store.subject_digest(SUBJECT))
    legacy = store.subject_key(CLIENT.name, digest_hex(SUBJECT))
    rig.redis_client.rename(keyed, legacy)
    rig.redis_client.hset(store.factor_key(factor_id), "subject_digest", digest_hex(SUBJECT))
    return legacy


def test_key_names_hide_the_subject(rig: TotpRig, service: TotpService) -> None:
    """No key names the subject, or its plain SHA-256 (reversible by guessing the subject)."""
    rig.enrolled(service, CLIENT)
    names = " ".join(_keys(rig))
    assert SUBJECT not in names
    assert digest_hex(SUBJECT) not in names
    assert rig.store.subject_digest(SUBJECT) in names


def test_the_digest_depends_on_the_server_key(rig: TotpRig) -> None:
    """Without the key derived from the pepper, the digest cannot be recomputed."""
    other = type(rig.store)(rig.redis_client, rig.prefix, name_key=b"k" * 32)
    assert other.subject_digest(SUBJECT) != rig.store.subject_digest(SUBJECT)


def test_a_legacy_index_is_moved_on_the_first_check(rig: TotpRig, service: TotpService) -> None:
    """A factor indexed under the plain SHA-256 still checks, and its index is renamed."""
    enrolment = rig.enrolled(service, CLIENT)
    legacy = _make_legacy(rig, enrolment.factor.id)
    rig.next_step()
    assert service.check(CLIENT, SUBJECT, code_at(enrolment.secret, rig.clock.ms))
    store = rig.store
    assert 0 == rig.redis_client.exists(legacy)
    keyed = store.subject_key(CLIENT.name, store.subject_digest(SUBJECT))
    assert f"{enrolment.factor.id}:verified" == rig.redis_client.get(keyed)
    digest = rig.redis_client.hget(store.factor_key(enrolment.factor.id), "subject_digest")
    assert store.subject_digest(SUBJECT) == digest


def test_a_moved_factor_deletes_cleanly(rig: TotpRig, service: TotpService) -> None:
    """After the move, deleting the factor leaves no index under either name."""
    enrolment = rig.enrolled(service, CLIENT)
    _make_legacy(rig, enrolment.factor.id)
    rig.next_step()
    service.check(CLIENT, SUBJECT, code_at(enrolment.secret, rig.clock.ms))
    service.delete(CLIENT, enrolment.factor.id)
    assert [] == [key for key in _keys(rig) if ":totp:subject:" in key]


def test_a_legacy_verified_factor_still_blocks_a_new_enrolment(
    rig: TotpRig, service: TotpService
) -> None:
    """Enrolling over a factor indexed under the old name finds it: FactorExists."""
    enrolment = rig.enrolled(service, CLIENT)
    _make_legacy(rig, enrolment.factor.id)
    with pytest.raises(FactorExists):
        service.enroll(CLIENT, SUBJECT)
