"""The /v1/totp routes (docs/totp.md) through HTTP, and /readyz on Redis persistence."""

from __future__ import annotations

import re
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from otp_service.core.errors import FactorExists, FactorNotFound
from otp_service.storage.embedded_redis import EmbeddedRedis
from otp_service.totp.store import TotpStore
from otp_service.web.problems import PROBLEMS
from otp_service.web.schemas import iso_timestamp
from tests.support import NAME_KEY, FakeClock, auth, problem_of
from tests.totp.totp_support import SUBJECT, code_at, wrong_code

FACTORS = "/v1/totp/factors"
CHECKS = "/v1/totp/checks"


def _enrol(http: FlaskClient, client: str = "acme", **body: Any) -> dict[str, Any]:
    response = http.post(FACTORS, json={"subject": SUBJECT, **body}, headers=auth(client))
    assert 201 == response.status_code, response.get_json()
    enrolment: dict[str, Any] = response.get_json()
    return enrolment


def _activate(http: FlaskClient, factor_id: str, code: str, client: str = "acme") -> Any:
    return http.post(f"{FACTORS}/{factor_id}/activate", json={"code": code}, headers=auth(client))


def _check(http: FlaskClient, code: str, subject: str = SUBJECT, client: str = "acme") -> Any:
    return http.post(CHECKS, json={"subject": subject, "code": code}, headers=auth(client))


def _verified(http: FlaskClient, clock: FakeClock) -> dict[str, Any]:
    enrolment = _enrol(http)
    response = _activate(http, enrolment["id"], code_at(enrolment["secret"], clock.ms))
    assert 200 == response.status_code, response.get_json()
    clock.advance(30)
    return enrolment


class TestEnrol:
    def test_enrolment_answers_the_contract(self, http: FlaskClient, clock: FakeClock) -> None:
        """201 with id, subject, unverified status, the secret, the otpauth URI and a QR SVG."""
        body = _enrol(http)
        assert re.fullmatch(r"tf_[0-9a-f]{32}", body["id"])
        assert (SUBJECT, "unverified", SUBJECT) == (body["subject"], body["status"], body["label"])
        assert re.fullmatch(r"[A-Z2-7]{32}", body["secret"])
        assert body["otpauth_uri"].startswith(f"otpauth://totp/otp-service:{SUBJECT}?secret=")
        assert body["qr_svg"].startswith("<svg")
        assert ("SHA1", 6, 30) == (body["algorithm"], body["digits"], body["period"])
        assert body["expires_at"] is not None

    def test_sha256_with_eight_digits_is_in_the_uri(self, http: FlaskClient) -> None:
        """Optional algorithm and digits reach the provisioning URI."""
        body = _enrol(http, algorithm="SHA256", digits=8, label="Alice")
        assert "otpauth://totp/otp-service:Alice?" in body["otpauth_uri"]
        assert "algorithm=SHA256" in body["otpauth_uri"]
        assert "digits=8" in body["otpauth_uri"]

    def test_a_verified_factor_makes_enrolment_a_409(
        self, http: FlaskClient, clock: FakeClock
    ) -> None:
        """A subject with a verified factor cannot enrol again: 409 factor-exists."""
        _verified(http, clock)
        response = http.post(FACTORS, json={"subject": SUBJECT}, headers=auth())
        problem_of(response, 409, "factor-exists")

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"subject": ""},
            {"subject": "a\nb"},
            {"subject": "x" * 257},
            {"subject": SUBJECT, "digits": 7},
            {"subject": SUBJECT, "algorithm": "MD5"},
            {"subject": SUBJECT, "label": "a:b"},
            {"subject": SUBJECT, "unexpected": 1},
        ],
    )
    def test_bad_enrolments_are_422(self, http: FlaskClient, body: dict[str, Any]) -> None:
        """Missing or malformed fields answer 422 validation-error."""
        problem_of(http.post(FACTORS, json=body, headers=auth()), 422, "validation-error")

    def test_a_key_without_the_totp_scope_is_403(self, http: FlaskClient) -> None:
        """Every TOTP route needs the totp scope."""
        response = http.post(FACTORS, json={"subject": SUBJECT}, headers=auth("starter"))
        problem_of(response, 403, "forbidden")


class TestActivate:
    def test_a_first_code_verifies_the_factor(self, http: FlaskClient, clock: FakeClock) -> None:
        """200 with the factor, now verified, and no secret."""
        enrolment = _enrol(http)
        response = _activate(http, enrolment["id"], code_at(enrolment["secret"], clock.ms))
        body = response.get_json()
        assert (200, "verified", None) == (response.status_code, body["status"], body["expires_at"])
        assert "secret" not in body

    def test_a_wrong_code_is_422(self, http: FlaskClient, clock: FakeClock) -> None:
        """A wrong code does not activate: 422 naming the code field."""
        enrolment = _enrol(http)
        response = _activate(http, enrolment["id"], wrong_code(enrolment["secret"], clock.ms))
        assert ["code"] == [
            e["field"] for e in problem_of(response, 422, "validation-error")["errors"]
        ]

    @pytest.mark.parametrize("code", ["12345", "12ab56", "1234567", "١٢٣٤٥٦"])
    def test_a_malformed_code_is_422(self, http: FlaskClient, code: str) -> None:
        """Not 6 or 8 ASCII digits: 422."""
        enrolment = _enrol(http)
        problem_of(_activate(http, enrolment["id"], code), 422, "validation-error")

    def test_an_eight_digit_code_for_a_six_digit_factor_is_422(self, http: FlaskClient) -> None:
        """The code must have the factor's length."""
        enrolment = _enrol(http)
        problem_of(_activate(http, enrolment["id"], "12345678"), 422, "validation-error")

    @pytest.mark.parametrize("factor_id", ["tf_" + "0" * 32, "nope", "vf_" + "0" * 32])
    def test_an_unknown_factor_is_404(self, http: FlaskClient, factor_id: str) -> None:
        """Unknown or malformed ids: 404 factor-not-found."""
        problem_of(_activate(http, factor_id, "123456"), 404, "factor-not-found")

    def test_another_clients_factor_is_404(self, http: FlaskClient, clock: FakeClock) -> None:
        """A client cannot activate another client's factor."""
        enrolment = _enrol(http)
        code = code_at(enrolment["secret"], clock.ms)
        problem_of(_activate(http, enrolment["id"], code, "globex"), 404, "factor-not-found")

    def test_repeated_wrong_codes_are_429(self, http: FlaskClient, clock: FakeClock) -> None:
        """Five wrong codes, then 429 with Retry-After and locked_until (the first step, 1 min)."""
        enrolment = _enrol(http)
        wrong = wrong_code(enrolment["secret"], clock.ms)
        for _ in range(5):
            _activate(http, enrolment["id"], wrong)
        response = _activate(http, enrolment["id"], wrong)
        problem_of(response, 429, "max-attempts-reached")
        assert "60" == response.headers["Retry-After"]
        assert iso_timestamp(clock.ms + 60_000) == response.get_json()["locked_until"]


class TestChecks:
    def test_the_right_code_is_valid(self, http: FlaskClient, clock: FakeClock) -> None:
        """200 {"valid": true}."""
        secret = _verified(http, clock)["secret"]
        response = _check(http, code_at(secret, clock.ms))
        assert (200, {"valid": True}) == (response.status_code, response.get_json())

    def test_a_wrong_code_is_not_an_error(self, http: FlaskClient, clock: FakeClock) -> None:
        """200 {"valid": false}."""
        secret = _verified(http, clock)["secret"]
        response = _check(http, wrong_code(secret, clock.ms))
        assert (200, {"valid": False}) == (response.status_code, response.get_json())

    def test_a_replayed_code_is_not_valid(self, http: FlaskClient, clock: FakeClock) -> None:
        """The same code twice: valid, then not."""
        secret = _verified(http, clock)["secret"]
        code = code_at(secret, clock.ms)
        assert [True, False] == [_check(http, code).get_json()["valid"] for _ in range(2)]

    def test_a_subject_without_a_verified_factor_is_404(self, http: FlaskClient) -> None:
        """No factor, or only an unverified one: 404."""
        problem_of(_check(http, "123456", subject="nobody"), 404, "factor-not-found")
        _enrol(http)
        problem_of(_check(http, "123456"), 404, "factor-not-found")

    def test_another_clients_subject_is_404(self, http: FlaskClient, clock: FakeClock) -> None:
        """The same subject id under another client has no factor."""
        secret = _verified(http, clock)["secret"]
        problem_of(
            _check(http, code_at(secret, clock.ms), client="globex"), 404, "factor-not-found"
        )

    def test_throttling_trips_and_recovers(self, http: FlaskClient, clock: FakeClock) -> None:
        """Five failures, then 429 with Retry-After; a minute later the right code passes."""
        secret = _verified(http, clock)["secret"]
        for _ in range(5):
            _check(http, wrong_code(secret, clock.ms))
        response = _check(http, code_at(secret, clock.ms))
        problem_of(response, 429, "max-attempts-reached")
        assert "60" == response.headers["Retry-After"]
        clock.advance(60)
        assert {"valid": True} == _check(http, code_at(secret, clock.ms)).get_json()

    @pytest.mark.parametrize("code", ["", "12345", "1234567", "abc", "abcde-fghj!", "x" * 17])
    def test_a_malformed_code_is_422(self, http: FlaskClient, clock: FakeClock, code: str) -> None:
        """Neither a 6/8-digit code nor a backup code: 422."""
        _verified(http, clock)
        problem_of(_check(http, code), 422, "validation-error")


class TestDeleteAndBackupCodes:
    def test_delete_is_204_then_checks_are_404(self, http: FlaskClient, clock: FakeClock) -> None:
        """A deleted factor is gone."""
        enrolment = _verified(http, clock)
        response = http.delete(f"{FACTORS}/{enrolment['id']}", headers=auth())
        assert (204, b"") == (response.status_code, response.data)
        problem_of(_check(http, code_at(enrolment["secret"], clock.ms)), 404, "factor-not-found")

    def test_deleting_an_unknown_or_foreign_factor_is_404(
        self, http: FlaskClient, clock: FakeClock
    ) -> None:
        """Unknown ids and other clients' factors: 404."""
        enrolment = _verified(http, clock)
        for factor_id, client in (("tf_" + "0" * 32, "acme"), (enrolment["id"], "globex")):
            response = http.delete(f"{FACTORS}/{factor_id}", headers=auth(client))
            problem_of(response, 404, "factor-not-found")

    def test_backup_codes_are_201_and_work_once_in_checks(
        self, http: FlaskClient, clock: FakeClock
    ) -> None:
        """Ten codes; one of them passes a check once."""
        factor_id = _verified(http, clock)["id"]
        response = http.post(f"{FACTORS}/{factor_id}/backup-codes", headers=auth())
        body = response.get_json()
        assert (201, factor_id, 10) == (
            response.status_code,
            body["factor_id"],
            len(body["backup_codes"]),
        )
        code = body["backup_codes"][0].upper()
        assert [True, False] == [_check(http, code).get_json()["valid"] for _ in range(2)]

    def test_backup_codes_of_an_unverified_factor_are_404(self, http: FlaskClient) -> None:
        """Only a verified factor gets backup codes."""
        factor_id = _enrol(http)["id"]
        response = http.post(f"{FACTORS}/{factor_id}/backup-codes", headers=auth())
        problem_of(response, 404, "factor-not-found")


class TestReadiness:
    def test_readyz_warns_when_redis_does_not_persist(self, app: Flask) -> None:
        """The test Redis has no persistence: readyz is 200 with a persistence warning."""
        response = app.test_client().get("/readyz")
        body = response.get_json()
        assert 200 == response.status_code
        assert "persistence" in body["warnings"]
        assert "persistence" not in body["ok"]

    def test_aof_is_reported_as_persistent(self) -> None:
        """A Redis with appendonly yes reports AOF."""
        with EmbeddedRedis(extra_args=["--appendonly", "yes"]) as server:
            client = redis.Redis.from_url(server.url, decode_responses=True)
            assert "aof" == TotpStore(client, "p", name_key=NAME_KEY).persistence()
            client.close()

    def test_snapshots_alone_are_reported_as_rdb(self) -> None:
        """A Redis with save points but no AOF reports RDB."""
        with EmbeddedRedis(extra_args=["--save", "3600 1"]) as server:
            client = redis.Redis.from_url(server.url, decode_responses=True)
            assert "rdb" == TotpStore(client, "p", name_key=NAME_KEY).persistence()
            client.close()


def test_factor_errors_have_problem_types() -> None:
    """The TOTP errors map to 404 factor-not-found and 409 factor-exists."""
    assert (404, 409) == (PROBLEMS[FactorNotFound][0], PROBLEMS[FactorExists][0])
