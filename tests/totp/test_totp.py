"""TotpService on a real Redis: RFC vectors, tolerance, replay, throttling, backup codes, crypto."""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar, cast

import pytest
import redis

from otp_service.core.codes import CodeHasher
from otp_service.core.errors import FactorExists, FactorNotFound, InvalidRequest, TooManyAttempts
from otp_service.core.models import Policy
from otp_service.totp.backup_codes import normalize_backup_code
from otp_service.totp.models import Algorithm, FactorStatus
from otp_service.totp.service import TotpService
from tests.support import PEPPER, FakeClock
from tests.totp.totp_support import (
    SEEDS,
    SUBJECT,
    TotpRig,
    b32,
    code_at,
    hotp,
    totp_client,
    wrong_code,
)

CLIENT = totp_client()
_T = TypeVar("_T")

#: RFC 6238 Appendix B: (time in seconds, algorithm, 8-digit code).
RFC6238 = [
    (59, "SHA1", "94287082"),
    (59, "SHA256", "46119246"),
    (59, "SHA512", "90693936"),
    (1111111109, "SHA1", "07081804"),
    (1111111109, "SHA256", "68084774"),
    (1111111109, "SHA512", "25091201"),
    (1111111111, "SHA1", "14050471"),
    (1111111111, "SHA256", "67062674"),
    (1111111111, "SHA512", "99943326"),
    (1234567890, "SHA1", "89005924"),
    (1234567890, "SHA256", "91819424"),
    (1234567890, "SHA512", "93441116"),
    (2000000000, "SHA1", "69279037"),
    (2000000000, "SHA256", "90698825"),
    (2000000000, "SHA512", "38618901"),
    (20000000000, "SHA1", "65353130"),
    (20000000000, "SHA256", "77737706"),
    (20000000000, "SHA512", "47863826"),
]
#: RFC 4226 Appendix D: the HOTP values of counters 0-9 (a TOTP step is an HOTP counter).
RFC4226 = [
    "755224", "287082", "359152", "969429", "338314",
    "254676", "287922", "162583", "399871", "520489",
]  # fmt: skip


@pytest.fixture(name="rig")
def _rig(redis_client: redis.Redis, prefix: str, clock: FakeClock) -> TotpRig:
    return TotpRig(redis_client, prefix, clock)


@pytest.fixture(name="service")
def _service(rig: TotpRig) -> TotpService:
    return rig.service()


def _seeded(rig: TotpRig, algorithm: str) -> TotpService:
    return rig.service(secret=lambda: b32(SEEDS[algorithm]))


class TestRfcVectors:
    @pytest.mark.parametrize(("seconds", "algorithm", "code"), RFC6238)
    def test_rfc6238_code_activates_a_factor(
        self, rig: TotpRig, seconds: int, algorithm: str, code: str
    ) -> None:
        """Each RFC 6238 Appendix B code activates a factor with the RFC's seed at its time."""
        rig.clock.ms = seconds * 1000
        service = _seeded(rig, algorithm)
        enrolment = service.enroll(CLIENT, SUBJECT, algorithm=Algorithm(algorithm), digits=8)
        factor = service.activate(CLIENT, enrolment.factor.id, code)
        assert FactorStatus.VERIFIED == factor.status

    @pytest.mark.parametrize("algorithm", ["SHA1", "SHA256", "SHA512"])
    def test_rfc6238_codes_check_in_time_order(self, rig: TotpRig, algorithm: str) -> None:
        """After activation at 59 s, every later Appendix B code checks valid at its time."""
        rows = [(s, c) for s, a, c in RFC6238 if a == algorithm]
        rig.clock.ms = rows[0][0] * 1000
        service = _seeded(rig, algorithm)
        enrolment = service.enroll(CLIENT, SUBJECT, algorithm=Algorithm(algorithm), digits=8)
        service.activate(CLIENT, enrolment.factor.id, rows[0][1])
        results = []
        for seconds, code in rows[1:]:
            rig.clock.ms = seconds * 1000
            results.append(service.check(CLIENT, SUBJECT, code))
        assert [True] * 5 == results

    def test_rfc4226_values_are_the_codes_of_steps_0_to_9(self, rig: TotpRig) -> None:
        """RFC 4226 Appendix D's HOTP values, as TOTP steps 0-9 (T = 30 s x counter)."""
        rig.clock.ms = 0
        service = _seeded(rig, "SHA1")
        enrolment = service.enroll(CLIENT, SUBJECT)
        service.activate(CLIENT, enrolment.factor.id, RFC4226[0])
        results = []
        for counter, code in enumerate(RFC4226[1:], 1):
            rig.clock.ms = counter * 30_000 + 15_000
            results.append(service.check(CLIENT, SUBJECT, code))
        assert [True] * 9 == results

    def test_oracle_matches_rfc4226(self) -> None:
        """The tests' own HOTP oracle gives Appendix D's values."""
        assert RFC4226 == [hotp(b32(SEEDS["SHA1"]), counter) for counter in range(10)]

    def test_local_time_zone_does_not_matter(
        self, rig: TotpRig, local_zone: Callable[[str], None]
    ) -> None:
        """Codes are computed in UTC whatever the process's zone (no naive datetimes)."""
        local_zone("America/New_York")
        rig.clock.ms = 1111111109 * 1000
        service = _seeded(rig, "SHA1")
        enrolment = service.enroll(CLIENT, SUBJECT, digits=8)
        factor = service.activate(CLIENT, enrolment.factor.id, "07081804")
        assert FactorStatus.VERIFIED == factor.status


@pytest.fixture(name="local_zone")
def _local_zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


class TestToleranceAndReplay:
    @pytest.mark.parametrize(("offset", "expected"), [(-2, False), (-1, True), (0, True),
                                                      (1, True), (2, False)])  # fmt: skip
    def test_one_step_either_side_is_accepted(
        self, rig: TotpRig, service: TotpService, offset: int, expected: bool
    ) -> None:
        """The codes of the previous, current and next steps are valid; two steps away are not."""
        secret = rig.enrolled(service, CLIENT).secret
        rig.clock.advance(300)
        assert expected == service.check(CLIENT, SUBJECT, code_at(secret, rig.clock.ms, offset))

    def test_a_code_is_valid_once(self, rig: TotpRig, service: TotpService) -> None:
        """The same right code, checked twice in its step, is valid the first time only."""
        secret = rig.enrolled(service, CLIENT).secret
        rig.next_step()
        code = code_at(secret, rig.clock.ms)
        assert [True, False] == [service.check(CLIENT, SUBJECT, code) for _ in range(2)]

    def test_a_code_below_the_last_accepted_step_is_refused(
        self, rig: TotpRig, service: TotpService
    ) -> None:
        """After the next step's code is accepted, the current step's right code is refused."""
        secret = rig.enrolled(service, CLIENT).secret
        rig.clock.advance(300)
        assert service.check(CLIENT, SUBJECT, code_at(secret, rig.clock.ms, 1))
        assert not service.check(CLIENT, SUBJECT, code_at(secret, rig.clock.ms, 0))

    def test_the_activation_code_cannot_be_replayed(
        self, rig: TotpRig, service: TotpService
    ) -> None:
        """The code that activated a factor is not valid again as a check."""
        secret = rig.enrolled(service, CLIENT).secret
        assert not service.check(CLIENT, SUBJECT, code_at(secret, rig.clock.ms))

    def test_concurrent_checks_of_one_code_approve_once(self, rig: TotpRig) -> None:
        """Eight threads checking one right code at once: exactly one is valid."""
        client = totp_client(policy=Policy(max_attempts=50))
        service = rig.service()
        secret = rig.enrolled(service, client).secret
        rig.next_step()
        code = code_at(secret, rig.clock.ms)
        results = _in_parallel(8, lambda: service.check(client, SUBJECT, code))
        assert 1 == results.count(True)
        assert 7 == results.count(False)

    def test_concurrent_wrong_guesses_never_exceed_the_budget(
        self, rig: TotpRig, service: TotpService
    ) -> None:
        """Twenty parallel wrong guesses: five are compared, fifteen are refused as locked."""
        secret = rig.enrolled(service, CLIENT).secret
        wrong = wrong_code(secret, rig.clock.ms)
        results = _in_parallel(20, lambda: _outcome(lambda: service.check(CLIENT, SUBJECT, wrong)))
        assert (5, 15) == (results.count("False"), results.count("TooManyAttempts"))


def _outcome(call: Callable[[], bool]) -> str:
    try:
        return str(call())
    except TooManyAttempts:
        return "TooManyAttempts"


def _in_parallel(count: int, call: Callable[[], _T]) -> list[_T]:
    barrier = threading.Barrier(count)
    results: list[_T] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        result = call()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert count == len(results)
    return results


class TestThrottling:
    def test_fifth_failure_locks_the_factor(self, rig: TotpRig, service: TotpService) -> None:
        """Five wrong codes are answered; the sixth check is refused for the first step, 1 min."""
        secret = rig.enrolled(service, CLIENT).secret
        wrong = wrong_code(secret, rig.clock.ms)
        assert [False] * 5 == [service.check(CLIENT, SUBJECT, wrong) for _ in range(5)]
        with pytest.raises(TooManyAttempts) as raised:
            service.check(CLIENT, SUBJECT, wrong)
        assert 60 == raised.value.retry_after_seconds
        assert rig.clock.ms + 60_000 == raised.value.locked_until_ms

    def test_a_locked_factor_refuses_even_the_right_code(
        self, rig: TotpRig, service: TotpService
    ) -> None:
        """While locked, the right code is refused too (nothing is compared)."""
        secret = rig.enrolled(service, CLIENT).secret
        _fail(service, secret, rig, 5)
        rig.next_step()
        with pytest.raises(TooManyAttempts):
            service.check(CLIENT, SUBJECT, code_at(secret, rig.clock.ms))

    def test_the_lock_ends_after_the_window(self, rig: TotpRig, service: TotpService) -> None:
        """After the first step (1 min) the right code is valid again."""
        secret = rig.enrolled(service, CLIENT).secret
        _fail(service, secret, rig, 5)
        rig.clock.advance(60)
        assert service.check(CLIENT, SUBJECT, code_at(secret, rig.clock.ms))

    def test_a_success_resets_the_count(self, rig: TotpRig, service: TotpService) -> None:
        """Four failures, a success, four failures: never locked."""
        secret = rig.enrolled(service, CLIENT).secret
        _fail(service, secret, rig, 4)
        rig.next_step()
        assert service.check(CLIENT, SUBJECT, code_at(secret, rig.clock.ms))
        _fail(service, secret, rig, 4)
        rig.next_step()
        assert service.check(CLIENT, SUBJECT, code_at(secret, rig.clock.ms))

    def test_lockouts_escalate_and_are_capped(self, rig: TotpRig, service: TotpService) -> None:
        """Each five failures lock longer: 1 min, 5 min, 15 min, 1 h, then 24 h each time."""
        secret = rig.enrolled(service, CLIENT).secret
        locks = []
        for _ in range(7):
            _fail(service, secret, rig, 5)
            with pytest.raises(TooManyAttempts) as raised:
                service.check(CLIENT, SUBJECT, wrong_code(secret, rig.clock.ms))
            locks.append(raised.value.retry_after_seconds)
            rig.clock.advance(raised.value.retry_after_seconds)
        assert [60, 300, 900, 3600, 86_400, 86_400, 86_400] == locks

    def test_past_the_hard_limit_each_failure_locks_for_the_last_step(
        self, rig: TotpRig, service: TotpService
    ) -> None:
        """Past 100 failures in a row, one try per 24 h; a right code then resets everything."""
        secret = rig.enrolled(service, CLIENT).secret
        for _ in range(20):
            _fail(service, secret, rig, 5)
            rig.clock.advance(86_400)
        _fail(service, secret, rig, 1)
        with pytest.raises(TooManyAttempts) as raised:
            service.check(CLIENT, SUBJECT, code_at(secret, rig.clock.ms))
        assert 86_400 == raised.value.retry_after_seconds
        rig.clock.advance(86_400)
        assert service.check(CLIENT, SUBJECT, code_at(secret, rig.clock.ms))
        _fail(service, secret, rig, 4)  # the count and the steps started afresh

    def test_backup_codes_stay_usable_while_codes_are_locked(
        self, rig: TotpRig, service: TotpService
    ) -> None:
        """The backup codes have an allowance of their own: the way back in for the user."""
        enrolment = rig.enrolled(service, CLIENT)
        backup = service.regenerate_backup_codes(CLIENT, enrolment.factor.id).codes[0]
        _fail(service, enrolment.secret, rig, 5)
        with pytest.raises(TooManyAttempts):
            service.check(CLIENT, SUBJECT, code_at(enrolment.secret, rig.clock.ms))
        assert service.check(CLIENT, SUBJECT, backup)
        rig.next_step()
        assert service.check(CLIENT, SUBJECT, code_at(enrolment.secret, rig.clock.ms))

    def test_wrong_backup_codes_do_not_lock_the_codes(
        self, rig: TotpRig, service: TotpService
    ) -> None:
        """Five wrong backup codes lock the backup codes only."""
        enrolment = rig.enrolled(service, CLIENT)
        service.regenerate_backup_codes(CLIENT, enrolment.factor.id)
        assert [False] * 5 == [service.check(CLIENT, SUBJECT, "AAAA-AAAA-AA") for _ in range(5)]
        with pytest.raises(TooManyAttempts) as raised:
            service.check(CLIENT, SUBJECT, "AAAA-AAAA-AA")
        assert "backup codes" in str(raised.value)
        rig.next_step()
        assert service.check(CLIENT, SUBJECT, code_at(enrolment.secret, rig.clock.ms))

    def test_wrong_activation_codes_are_throttled(self, rig: TotpRig, service: TotpService) -> None:
        """Activation counts failures too: the sixth try is refused."""
        enrolment = service.enroll(CLIENT, SUBJECT)
        wrong = wrong_code(enrolment.secret, rig.clock.ms)
        for _ in range(5):
            with pytest.raises(InvalidRequest):
                service.activate(CLIENT, enrolment.factor.id, wrong)
        with pytest.raises(TooManyAttempts):
            service.activate(CLIENT, enrolment.factor.id, code_at(enrolment.secret, rig.clock.ms))


def _fail(service: TotpService, secret: str, rig: TotpRig, times: int) -> None:
    wrong = wrong_code(secret, rig.clock.ms)
    assert [False] * times == [service.check(CLIENT, SUBJECT, wrong) for _ in range(times)]


class TestEnrolment:
    def test_a_secret_has_at_least_160_bits(self, service: TotpService) -> None:
        """The secret is base32 of at least 20 random bytes."""
        secret = service.enroll(CLIENT, SUBJECT).secret
        assert 20 <= len(base64.b32decode(secret))

    def test_the_provisioning_uri_names_issuer_label_and_parameters(
        self, service: TotpService
    ) -> None:
        """The otpauth URI carries the brand as issuer, the label, algorithm and digits."""
        enrolment = service.enroll(
            CLIENT, SUBJECT, label="alice@example.com", algorithm=Algorithm.SHA256, digits=8
        )
        uri = enrolment.otpauth_uri
        assert uri.startswith("otpauth://totp/otp-service:alice%40example.com?")
        for part in (f"secret={enrolment.secret}", "issuer=otp-service", "algorithm=SHA256",
                     "digits=8"):  # fmt: skip
            assert part in uri

    def test_the_qr_code_is_svg(self, service: TotpService) -> None:
        """The QR code comes as an SVG document."""
        assert service.enroll(CLIENT, SUBJECT).qr_svg.startswith("<svg")

    def test_a_verified_factor_blocks_a_new_enrolment(
        self, rig: TotpRig, service: TotpService
    ) -> None:
        """Enrolling a subject that has a verified factor is refused."""
        rig.enrolled(service, CLIENT)
        with pytest.raises(FactorExists):
            service.enroll(CLIENT, SUBJECT)

    def test_a_new_enrolment_replaces_an_unverified_one(
        self, rig: TotpRig, service: TotpService
    ) -> None:
        """The older unverified factor is gone; the newer one activates."""
        first = service.enroll(CLIENT, SUBJECT)
        second = service.enroll(CLIENT, SUBJECT)
        with pytest.raises(FactorNotFound):
            service.activate(CLIENT, first.factor.id, code_at(first.secret, rig.clock.ms))
        factor = service.activate(CLIENT, second.factor.id, code_at(second.secret, rig.clock.ms))
        assert FactorStatus.VERIFIED == factor.status

    def test_an_unverified_factor_expires(self, rig: TotpRig, service: TotpService) -> None:
        """Fifteen minutes after enrolment, activation finds nothing."""
        enrolment = service.enroll(CLIENT, SUBJECT)
        rig.clock.advance(900)
        with pytest.raises(FactorNotFound):
            service.activate(CLIENT, enrolment.factor.id, code_at(enrolment.secret, rig.clock.ms))

    def test_an_unverified_factor_cannot_be_checked(
        self, rig: TotpRig, service: TotpService
    ) -> None:
        """Checks need a verified factor."""
        enrolment = service.enroll(CLIENT, SUBJECT)
        with pytest.raises(FactorNotFound):
            service.check(CLIENT, SUBJECT, code_at(enrolment.secret, rig.clock.ms))

    def test_a_deleted_factor_is_gone_and_the_subject_can_enrol_again(
        self, rig: TotpRig, service: TotpService
    ) -> None:
        """After delete, checks find nothing and a new enrolment is accepted."""
        enrolment = rig.enrolled(service, CLIENT)
        service.delete(CLIENT, enrolment.factor.id)
        with pytest.raises(FactorNotFound):
            service.check(CLIENT, SUBJECT, "123456")
        assert FactorStatus.UNVERIFIED == service.enroll(CLIENT, SUBJECT).factor.status

    def test_activation_loses_to_an_enrolment_that_took_the_index(
        self, rig: TotpRig, service: TotpService, redis_client: redis.Redis
    ) -> None:
        """The subject index decides: if a newer enrolment claimed it, activation is 404."""
        enrolment = service.enroll(CLIENT, SUBJECT)
        index = rig.store.subject_key(CLIENT.name, rig.store.subject_digest(SUBJECT))
        redis_client.set(index, "tf_" + "f" * 32 + ":unverified")
        with pytest.raises(FactorNotFound):
            service.activate(CLIENT, enrolment.factor.id, code_at(enrolment.secret, rig.clock.ms))

    def test_an_activation_half_done_blocks_enrolment(
        self, rig: TotpRig, service: TotpService, redis_client: redis.Redis
    ) -> None:
        """An index already at 'verified' over an unverified factor answers FactorExists."""
        enrolment = service.enroll(CLIENT, SUBJECT)
        index = rig.store.subject_key(CLIENT.name, rig.store.subject_digest(SUBJECT))
        redis_client.set(index, f"{enrolment.factor.id}:verified")
        with pytest.raises(FactorExists):
            service.enroll(CLIENT, SUBJECT)

    def test_a_stale_index_does_not_block_enrolment(
        self, rig: TotpRig, service: TotpService, redis_client: redis.Redis
    ) -> None:
        """An index pointing at a factor that is gone is replaced."""
        enrolment = rig.enrolled(service, CLIENT)
        redis_client.delete(rig.store.factor_key(enrolment.factor.id))
        assert FactorStatus.UNVERIFIED == service.enroll(CLIENT, SUBJECT).factor.status

    def test_another_client_cannot_see_a_factor(self, rig: TotpRig, service: TotpService) -> None:
        """Clients are isolated: the same subject of another client has no factor."""
        enrolment = rig.enrolled(service, CLIENT)
        other = totp_client("globex")
        with pytest.raises(FactorNotFound):
            service.check(other, SUBJECT, code_at(enrolment.secret, rig.clock.ms, 1))
        with pytest.raises(FactorNotFound):
            service.delete(other, enrolment.factor.id)

    def test_events_record_outcomes_without_secrets(
        self, rig: TotpRig, service: TotpService
    ) -> None:
        """Enrolled, activated, valid, invalid, replayed, deleted: and no secret or code."""
        enrolment = rig.enrolled(service, CLIENT)
        secret = enrolment.secret
        rig.next_step()
        code = code_at(secret, rig.clock.ms)
        service.check(CLIENT, SUBJECT, code)
        service.check(CLIENT, SUBJECT, code)
        service.check(CLIENT, SUBJECT, wrong_code(secret, rig.clock.ms))
        service.delete(CLIENT, enrolment.factor.id)
        expected = ["enrolled", "activated", "valid", "replayed", "invalid", "deleted"]
        assert expected == rig.events.outcomes()
        assert all(secret not in repr(e) and code not in repr(e) for e in rig.events.events)


class TestBackupCodes:
    def test_ten_distinct_codes_of_the_shown_form(self, rig: TotpRig, service: TotpService) -> None:
        """Ten different codes, each xxxxx-xxxxx in Crockford base32."""
        factor_id = rig.enrolled(service, CLIENT).factor.id
        codes = service.regenerate_backup_codes(CLIENT, factor_id).codes
        assert 10 == len(set(codes))
        assert all(re.fullmatch(r"[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}", c) for c in codes)

    def test_a_backup_code_is_valid_once(self, rig: TotpRig, service: TotpService) -> None:
        """A backup code passes a check in place of a TOTP code, the first time only."""
        factor_id = rig.enrolled(service, CLIENT).factor.id
        code = service.regenerate_backup_codes(CLIENT, factor_id).codes[3]
        assert [True, False] == [service.check(CLIENT, SUBJECT, code) for _ in range(2)]

    def test_regenerating_invalidates_the_old_codes(
        self, rig: TotpRig, service: TotpService
    ) -> None:
        """After a new set is made, a code of the old set is not valid; the new ones are."""
        factor_id = rig.enrolled(service, CLIENT).factor.id
        old = service.regenerate_backup_codes(CLIENT, factor_id).codes[0]
        new = service.regenerate_backup_codes(CLIENT, factor_id).codes[0]
        assert [False, True] == [service.check(CLIENT, SUBJECT, c) for c in (old, new)]

    def test_codes_are_stored_only_as_argon2id_hashes(
        self, rig: TotpRig, service: TotpService, redis_client: redis.Redis
    ) -> None:
        """The backup hash holds ten argon2id hashes and no code in clear."""
        factor_id = rig.enrolled(service, CLIENT).factor.id
        codes = service.regenerate_backup_codes(CLIENT, factor_id).codes
        stored = cast(dict[str, str], redis_client.hgetall(rig.store.backup_key(factor_id)))
        assert 10 == len(stored)
        assert all(
            re.fullmatch(r"m=\d+,t=\d+,p=\d+\$[^$]+\$[^$]+", value) for value in stored.values()
        )
        text = repr(stored)
        assert not any(c in text or c.replace("-", "") in text for c in codes)

    def test_a_code_of_another_factor_is_invalid(self, rig: TotpRig, service: TotpService) -> None:
        """Hashes are scoped to their factor: one subject's code does nothing for another."""
        alice = rig.enrolled(service, CLIENT, "alice").factor.id
        rig.enrolled(service, CLIENT, "bob")
        code = service.regenerate_backup_codes(CLIENT, alice).codes[0]
        assert not service.check(CLIENT, "bob", code)

    def test_concurrent_uses_of_one_code_approve_once(self, rig: TotpRig) -> None:
        """Six threads using one backup code at once: exactly one is valid."""
        client = totp_client(policy=Policy(max_attempts=50))
        service = rig.service()
        factor_id = rig.enrolled(service, client).factor.id
        code = service.regenerate_backup_codes(client, factor_id).codes[0]
        results = _in_parallel(6, lambda: service.check(client, SUBJECT, code))
        assert 1 == results.count(True)

    def test_an_unverified_factor_gets_no_backup_codes(self, service: TotpService) -> None:
        """Backup codes need a verified factor."""
        enrolment = service.enroll(CLIENT, SUBJECT)
        with pytest.raises(FactorNotFound):
            service.regenerate_backup_codes(CLIENT, enrolment.factor.id)

    def test_an_all_digit_backup_code_typed_without_its_dash_is_taken(
        self, rig: TotpRig, service: TotpService, redis_client: redis.Redis
    ) -> None:
        """A backup code of ten digits is read by its length, not as a TOTP code."""
        factor_id = rig.enrolled(service, CLIENT).factor.id
        hasher = CodeHasher(PEPPER, "test")
        key = rig.store.backup_key(factor_id)
        redis_client.hset(key, "0", hasher.hash(factor_id, "0123456789"))
        assert service.check(CLIENT, SUBJECT, "0123456789")

    @pytest.mark.parametrize(
        ("typed", "expected"),
        [
            ("abcde-fghjk", "abcdefghjk"),
            ("ABCDE FGHJK", "abcdefghjk"),
            ("abcdefghjk", "abcdefghjk"),
            ("ol1de-fghjk", "011defghjk"),
            ("abcde-fghj", None),
            ("abcde-fghjku", None),
            ("abcde-fghj!", None),
        ],
    )
    def test_typed_codes_are_read_forgivingly(self, typed: str, expected: str | None) -> None:
        """Case, dashes and spaces do not matter; i/l read as 1 and o as 0; else None."""
        assert expected == normalize_backup_code(typed)
