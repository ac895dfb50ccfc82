"""
The /v1/passkeys routes (docs/passkeys.md) against a production-mode app, driven by a software
authenticator (soft-webauthn) in WebAuthn's JSON form.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.passkeys.authenticator import Authenticator, tampered
from tests.passkeys.conftest import ORIGIN, RP_ID
from tests.support import FakeClock, auth, problem_of

BASE = "/v1/passkeys"
SUBJECT = "user-42"


def _start_registration(http: FlaskClient, client: str = "acme", **body: Any) -> dict[str, Any]:
    response = http.post(
        f"{BASE}/registrations", json={"subject": SUBJECT, **body}, headers=auth(client)
    )
    assert 201 == response.status_code, response.get_json()
    started: dict[str, Any] = response.get_json()
    return started


def _verify_registration(
    http: FlaskClient, registration_id: str, credential: dict[str, Any], client: str = "acme"
) -> Any:
    return http.post(
        f"{BASE}/registrations/{registration_id}/verify",
        json={"credential": credential},
        headers=auth(client),
    )


def _register(
    http: FlaskClient, device: Authenticator, subject: str = SUBJECT, client: str = "acme"
) -> dict[str, Any]:
    started = _start_registration(http, client, subject=subject)
    response = _verify_registration(http, started["id"], device.create(started["options"]), client)
    assert 201 == response.status_code, response.get_json()
    passkey: dict[str, Any] = response.get_json()
    return passkey


def _start_authentication(http: FlaskClient, client: str = "acme", **body: Any) -> Any:
    return http.post(f"{BASE}/authentications", json=body, headers=auth(client))


def _verify_authentication(
    http: FlaskClient, authentication_id: str, credential: dict[str, Any], client: str = "acme"
) -> Any:
    return http.post(
        f"{BASE}/authentications/{authentication_id}/verify",
        json={"credential": credential},
        headers=auth(client),
    )


def _sign_in(
    http: FlaskClient, device: Authenticator, client: str = "acme", **body: Any
) -> dict[str, Any]:
    started = _start_authentication(http, client, **body).get_json()
    response = _verify_authentication(http, started["id"], device.get(started["options"]), client)
    assert 200 == response.status_code, response.get_json()
    outcome: dict[str, Any] = response.get_json()
    return outcome


@pytest.fixture(name="device")
def _device() -> Authenticator:
    return Authenticator(ORIGIN)


class TestRegistration:
    def test_options_follow_the_contract(self, pk_http: FlaskClient) -> None:
        """201: a pr_ id, an expiry, creation options for RP example.com, resident key preferred."""
        started = _start_registration(pk_http, display_name="Alice")
        assert re.fullmatch(r"pr_[0-9a-f]{32}", started["id"])
        options = started["options"]
        assert {"id": RP_ID, "name": "Example"} == options["rp"]
        assert ("user-42", "Alice") == (options["user"]["name"], options["user"]["displayName"])
        assert "preferred" == options["authenticatorSelection"]["residentKey"]
        assert "preferred" == options["authenticatorSelection"]["userVerification"]
        assert [] == options["excludeCredentials"]
        assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", options["challenge"])

    def test_a_software_authenticator_registers(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """201 with the passkey: pk_ id, subject, credential id, backup state, transports."""
        passkey = _register(pk_http, device)
        assert re.fullmatch(r"pk_[0-9a-f]{32}", passkey["id"])
        assert SUBJECT == passkey["subject"]
        assert passkey["credential_id"]
        assert (False, "single_device", ["internal"]) == (
            passkey["backed_up"],
            passkey["device_type"],
            passkey["transports"],
        )
        assert passkey["created_at"].endswith("Z")

    def test_the_subjects_credentials_are_excluded(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """A second registration lists the first credential in excludeCredentials."""
        passkey = _register(pk_http, device)
        excluded = _start_registration(pk_http)["options"]["excludeCredentials"]
        assert [passkey["credential_id"]] == [entry["id"] for entry in excluded]

    def test_a_registration_is_single_use(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """The same registration verified again: 404 challenge-not-found."""
        started = _start_registration(pk_http)
        credential = device.create(started["options"])
        assert 201 == _verify_registration(pk_http, started["id"], credential).status_code
        problem_of(
            _verify_registration(pk_http, started["id"], credential), 404, "challenge-not-found"
        )

    def test_an_expired_registration_is_404(
        self, pk_http: FlaskClient, device: Authenticator, clock: FakeClock
    ) -> None:
        """Challenges live 5 minutes."""
        started = _start_registration(pk_http)
        credential = device.create(started["options"])
        clock.advance(301)
        problem_of(
            _verify_registration(pk_http, started["id"], credential), 404, "challenge-not-found"
        )

    def test_a_wrong_origin_is_422_naming_it(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """A page on another origin: 422 passkey-rejected whose detail names the origin."""
        started = _start_registration(pk_http)
        credential = device.create(started["options"], origin="https://evil.example.net")
        body = problem_of(
            _verify_registration(pk_http, started["id"], credential), 422, "passkey-rejected"
        )
        assert "https://evil.example.net" in body["detail"]
        assert "origin_not_allowed" == body["reason"]

    def test_a_wrong_rp_id_is_422_naming_it(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """A credential made for another RP id: 422 whose detail names the expected RP id."""
        started = _start_registration(pk_http)
        options = {**started["options"], "rp": {"id": "evil.example.net", "name": "Evil"}}
        credential = device.create(options)
        body = problem_of(
            _verify_registration(pk_http, started["id"], credential), 422, "passkey-rejected"
        )
        assert RP_ID in body["detail"]
        assert "rp_id_mismatch" == body["reason"]

    def test_required_user_verification_refuses_presence_only(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """The software authenticator only tests presence: with UV required, 422."""
        started = _start_registration(pk_http, user_verification="required")
        credential = device.create(started["options"])
        body = problem_of(
            _verify_registration(pk_http, started["id"], credential), 422, "passkey-rejected"
        )
        assert "user_not_verified" == body["reason"]

    def test_a_credential_registered_twice_is_409(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """The same credential again (the device keeps its key): 409 passkey-exists."""
        _register(pk_http, device)
        device.device.cred_init = lambda rp_id, user_handle: None
        started = _start_registration(pk_http)
        response = _verify_registration(pk_http, started["id"], device.create(started["options"]))
        problem_of(response, 409, "passkey-exists")

    @pytest.mark.parametrize(
        "body",
        [
            {},
            {"subject": ""},
            {"subject": "a\nb"},
            {"subject": SUBJECT, "user_verification": "always"},
            {"subject": SUBJECT, "display_name": "x" * 65},
            {"subject": SUBJECT, "unexpected": 1},
        ],
    )
    def test_bad_starts_are_422(self, pk_http: FlaskClient, body: dict[str, Any]) -> None:
        """Missing or malformed fields: 422 validation-error."""
        response = pk_http.post(f"{BASE}/registrations", json=body, headers=auth())
        problem_of(response, 422, "validation-error")

    @pytest.mark.parametrize(
        "credential",
        [
            {},
            {"id": "x", "rawId": "x", "type": "public-key", "response": {}},
            {
                "id": "x",
                "rawId": "x!",
                "type": "public-key",
                "response": {"clientDataJSON": "e30", "attestationObject": "oA"},
            },
            {
                "id": "x",
                "rawId": "x",
                "type": "password",
                "response": {"clientDataJSON": "e30", "attestationObject": "oA"},
            },
        ],
    )
    def test_malformed_credentials_are_422(
        self, pk_http: FlaskClient, credential: dict[str, Any]
    ) -> None:
        """Not a RegistrationResponseJSON: 422 validation-error, the registration kept."""
        started = _start_registration(pk_http)
        problem_of(
            _verify_registration(pk_http, started["id"], credential), 422, "validation-error"
        )

    def test_garbage_inside_a_well_formed_credential_is_422(self, pk_http: FlaskClient) -> None:
        """Well-formed JSON whose attestation is not CBOR: 422 passkey-rejected, never a 500."""
        started = _start_registration(pk_http)
        credential = {
            "id": "AAAA",
            "rawId": "AAAA",
            "type": "public-key",
            "response": {"clientDataJSON": "e30", "attestationObject": "oA"},
        }
        problem_of(
            _verify_registration(pk_http, started["id"], credential), 422, "passkey-rejected"
        )

    @pytest.mark.parametrize("registration_id", ["pr_" + "0" * 32, "nope", "pa_" + "0" * 32])
    def test_unknown_registrations_are_404(
        self, pk_http: FlaskClient, device: Authenticator, registration_id: str
    ) -> None:
        """Unknown or malformed ids: 404."""
        started = _start_registration(pk_http)
        credential = device.create(started["options"])
        response = _verify_registration(pk_http, registration_id, credential)
        problem_of(response, 404, "challenge-not-found")

    def test_another_clients_registration_is_404(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """globex cannot finish acme's registration."""
        started = _start_registration(pk_http)
        credential = device.create(started["options"])
        response = _verify_registration(pk_http, started["id"], credential, client="globex")
        problem_of(response, 404, "challenge-not-found")
        assert 201 == _verify_registration(pk_http, started["id"], credential).status_code

    def test_a_key_without_the_passkeys_scope_is_403(self, pk_http: FlaskClient) -> None:
        """Every passkey route needs the passkeys scope."""
        response = pk_http.post(
            f"{BASE}/registrations", json={"subject": SUBJECT}, headers=auth("starter")
        )
        problem_of(response, 403, "forbidden")


class TestAuthentication:
    def test_a_registered_passkey_signs_in(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """201 options listing the subject's credential, then 200 valid with subject and passkey."""
        passkey = _register(pk_http, device)
        response = _start_authentication(pk_http, subject=SUBJECT)
        started = response.get_json()
        assert 201 == response.status_code
        assert re.fullmatch(r"pa_[0-9a-f]{32}", started["id"])
        assert RP_ID == started["options"]["rpId"]
        allowed = started["options"]["allowCredentials"]
        assert [passkey["credential_id"]] == [entry["id"] for entry in allowed]
        response = _verify_authentication(pk_http, started["id"], device.get(started["options"]))
        assert 200 == response.status_code
        body = response.get_json()
        assert (True, SUBJECT, passkey["id"], False) == (
            body["valid"],
            body["subject"],
            body["passkey_id"],
            body["user_verified"],
        )

    def test_a_discoverable_sign_in_names_the_subject(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """No subject: an empty allowCredentials, and the answer says whose passkey it was."""
        _register(pk_http, device)
        started = _start_authentication(pk_http).get_json()
        assert [] == started["options"]["allowCredentials"]
        outcome = _verify_authentication(pk_http, started["id"], device.get(started["options"]))
        assert (True, SUBJECT) == (outcome.get_json()["valid"], outcome.get_json()["subject"])

    def test_a_subject_without_passkeys_is_404(self, pk_http: FlaskClient) -> None:
        """404 passkey-not-found."""
        problem_of(_start_authentication(pk_http, subject="nobody"), 404, "passkey-not-found")

    def test_a_replayed_assertion_is_not_valid(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """An assertion sent again against a fresh challenge: valid false, not an error."""
        _register(pk_http, device)
        started = _start_authentication(pk_http, subject=SUBJECT).get_json()
        assertion = device.get(started["options"])
        assert 200 == _verify_authentication(pk_http, started["id"], assertion).status_code
        fresh = _start_authentication(pk_http, subject=SUBJECT).get_json()
        body = _verify_authentication(pk_http, fresh["id"], assertion).get_json()
        assert {"valid": False, "reason": "challenge_mismatch"}.items() <= body.items()

    def test_a_used_authentication_is_404(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """The challenge is consumed by the first verify."""
        _register(pk_http, device)
        started = _start_authentication(pk_http, subject=SUBJECT).get_json()
        assertion = device.get(started["options"])
        assert 200 == _verify_authentication(pk_http, started["id"], assertion).status_code
        problem_of(
            _verify_authentication(pk_http, started["id"], assertion), 404, "challenge-not-found"
        )

    def test_an_expired_challenge_is_404(
        self, pk_http: FlaskClient, device: Authenticator, clock: FakeClock
    ) -> None:
        """Five minutes and one second later: 404."""
        _register(pk_http, device)
        started = _start_authentication(pk_http, subject=SUBJECT).get_json()
        assertion = device.get(started["options"])
        clock.advance(301)
        problem_of(
            _verify_authentication(pk_http, started["id"], assertion), 404, "challenge-not-found"
        )

    def test_a_forged_signature_is_not_valid(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """Client data changed after signing: valid false, invalid_signature."""
        _register(pk_http, device)
        started = _start_authentication(pk_http, subject=SUBJECT).get_json()
        assertion = tampered(device.get(started["options"]))
        body = _verify_authentication(pk_http, started["id"], assertion).get_json()
        assert {"valid": False, "reason": "invalid_signature"}.items() <= body.items()

    def test_a_wrong_origin_is_not_valid(self, pk_http: FlaskClient, device: Authenticator) -> None:
        """An assertion made on another origin: valid false, origin_not_allowed."""
        _register(pk_http, device)
        started = _start_authentication(pk_http, subject=SUBJECT).get_json()
        assertion = device.get(started["options"], origin="https://evil.example.net")
        body = _verify_authentication(pk_http, started["id"], assertion).get_json()
        assert {"valid": False, "reason": "origin_not_allowed"}.items() <= body.items()

    def test_a_counter_that_goes_back_is_refused_and_counted(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """A cloned authenticator (its counter behind the stored one): valid false, audited."""
        _register(pk_http, device)
        assert _sign_in(pk_http, device, subject=SUBJECT)["valid"]
        assert _sign_in(pk_http, device, subject=SUBJECT)["valid"]  # the counter is now 2
        device.device.sign_count = 0  # the clone: its next assertion counts 1
        body = _sign_in(pk_http, device, subject=SUBJECT)
        assert {"valid": False, "reason": "counter_regression"}.items() <= body.items()
        metrics = pk_http.get("/metrics").get_data(as_text=True)
        assert 'otp_passkey_events_total{outcome="counter_regression"} 1.0' in metrics

    def test_a_counter_of_zero_that_stays_zero_is_accepted(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """Synced passkeys never count: 0 after 0 is valid, again and again."""
        _register(pk_http, device)
        for _ in range(3):
            device.device.sign_count = -1  # the device adds 1 before signing: it signs 0
            assert _sign_in(pk_http, device, subject=SUBJECT)["valid"]

    def test_another_clients_credential_is_not_valid(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """acme's passkey presented to globex: unknown there."""
        _register(pk_http, device)
        started = _start_authentication(pk_http, client="globex").get_json()
        body = _verify_authentication(
            pk_http, started["id"], device.get(started["options"]), "globex"
        ).get_json()
        assert {"valid": False, "reason": "unknown_credential"}.items() <= body.items()

    def test_another_subjects_passkey_is_not_valid(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """A challenge for bob answered with alice's passkey: valid false."""
        _register(pk_http, device, subject="alice")
        _register(pk_http, Authenticator(ORIGIN), subject="bob")
        started = _start_authentication(pk_http, subject="bob").get_json()
        options = {**started["options"], "allowCredentials": []}
        body = _verify_authentication(pk_http, started["id"], device.get(options)).get_json()
        assert {"valid": False, "reason": "unknown_credential"}.items() <= body.items()

    def test_failed_sign_ins_lock_the_subject(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """Five failures (the policy's max_attempts) lock: 429 with locked_until; valid after."""
        _register(pk_http, device)
        for _ in range(5):
            started = _start_authentication(pk_http, subject=SUBJECT).get_json()
            forged = tampered(device.get(started["options"]))
            assert not _verify_authentication(pk_http, started["id"], forged).get_json()["valid"]
        started = _start_authentication(pk_http, subject=SUBJECT).get_json()
        response = _verify_authentication(pk_http, started["id"], device.get(started["options"]))
        body = problem_of(response, 429, "max-attempts-reached")
        assert body["locked_until"].endswith("Z")
        assert int(response.headers["Retry-After"]) > 0

    def test_two_concurrent_verifies_of_one_challenge_one_wins(
        self, pk_http: FlaskClient, device: Authenticator, passkey_app: Any
    ) -> None:
        """Of two verifies of one challenge at once, exactly one is answered (the other 404)."""
        _register(pk_http, device)
        started = _start_authentication(pk_http, subject=SUBJECT).get_json()
        assertion = device.get(started["options"])
        statuses: list[int] = []
        barrier = threading.Barrier(2)

        def verify() -> None:
            http = passkey_app.test_client()
            barrier.wait()
            statuses.append(_verify_authentication(http, started["id"], assertion).status_code)

        threads = [threading.Thread(target=verify) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert [200, 404] == sorted(statuses)


class TestListAndDelete:
    def test_a_subjects_passkeys_are_listed_without_keys(
        self, pk_http: FlaskClient, device: Authenticator, clock: FakeClock
    ) -> None:
        """GET lists them oldest first; nothing in them is a public key."""
        first = _register(pk_http, device)
        clock.advance(1)
        second = _register(pk_http, Authenticator(ORIGIN))
        listed = pk_http.get(f"{BASE}?subject={SUBJECT}", headers=auth()).get_json()["passkeys"]
        assert [first["id"], second["id"]] == [p["id"] for p in listed]
        assert not any("public_key" in p for p in listed)

    def test_a_removed_passkey_no_longer_signs_in(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """DELETE: 204; the credential is unknown afterwards; deleting again is 404."""
        passkey = _register(pk_http, device)
        started = _start_authentication(pk_http).get_json()
        assert 204 == pk_http.delete(f"{BASE}/{passkey['id']}", headers=auth()).status_code
        body = _verify_authentication(
            pk_http, started["id"], device.get(started["options"])
        ).get_json()
        assert {"valid": False, "reason": "unknown_credential"}.items() <= body.items()
        problem_of(
            pk_http.delete(f"{BASE}/{passkey['id']}", headers=auth()), 404, "passkey-not-found"
        )
        assert [] == pk_http.get(f"{BASE}?subject={SUBJECT}", headers=auth()).get_json()["passkeys"]

    def test_another_clients_passkey_cannot_be_deleted(
        self, pk_http: FlaskClient, device: Authenticator
    ) -> None:
        """404 for globex; acme's passkey stays."""
        passkey = _register(pk_http, device)
        problem_of(
            pk_http.delete(f"{BASE}/{passkey['id']}", headers=auth("globex")),
            404,
            "passkey-not-found",
        )
        assert 1 == len(
            pk_http.get(f"{BASE}?subject={SUBJECT}", headers=auth()).get_json()["passkeys"]
        )

    @pytest.mark.parametrize("query", ["", "?subject=", "?subject=a%0Ab"])
    def test_a_list_needs_a_subject(self, pk_http: FlaskClient, query: str) -> None:
        """422 without a valid subject."""
        problem_of(pk_http.get(f"{BASE}{query}", headers=auth()), 422, "validation-error")


class TestFailClosed:
    def test_redis_down_is_503(self, down_http: FlaskClient) -> None:
        """No Redis: 503 store-unavailable, never a ceremony."""
        response = down_http.post(
            f"{BASE}/registrations", json={"subject": SUBJECT}, headers=auth()
        )
        problem_of(response, 503, "store-unavailable")
