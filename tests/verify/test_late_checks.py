"""
Late checks (issue 23, part 2), over real HTTP: a check of a verification that is no longer
pending is a 404 whose problem says why, to the owning client only.
"""

from __future__ import annotations

from typing import Any

from otp_service.core.errors import DeliveryFailed
from tests.live_http import LiveApi
from tests.support import PHONE, FakeClock


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def _late(live: LiveApi, verification_id: str, code: str, client: str = "acme") -> Any:
    response = live.check(verification_id, code, client=client)
    assert 404 == response.status_code, response.json()
    assert "/problems/verification-not-found" == response.json()["type"]
    return response.json()


class TestReasons:
    def test_approved(self, live: LiveApi) -> None:
        """A second check of an approved verification: 404, reason approved."""
        verification_id, code = live.started()
        live.check(verification_id, code)
        problem = _late(live, verification_id, code)
        assert "approved" == problem["reason"]
        assert "already approved" in problem["detail"]

    def test_expired(self, live: LiveApi, clock: FakeClock) -> None:
        """A check after the code's lifetime: reason expired (GET shows expired too)."""
        verification_id, code = live.started()
        clock.advance(601)
        assert "expired" == _late(live, verification_id, code)["reason"]
        assert "expired" == live.get(f"/v1/verifications/{verification_id}").json()["status"]

    def test_canceled(self, live: LiveApi) -> None:
        """A check of a canceled verification: reason canceled."""
        verification_id, code = live.started()
        live.cancel(verification_id)
        assert "canceled" == _late(live, verification_id, code)["reason"]

    def test_max_attempts_reached(self, live: LiveApi, clock: FakeClock) -> None:
        """Checks used up: 429 while the code lives, then 404 with reason max_attempts_reached."""
        verification_id, code = live.started()
        for _ in range(5):
            live.check(verification_id, _wrong(code))
        assert 429 == live.check(verification_id, code).status_code
        clock.advance(601)
        assert "max_attempts_reached" == _late(live, verification_id, code)["reason"]

    def test_failed(self, live: LiveApi) -> None:
        """A verification whose delivery failed: reason failed."""
        live.sender.failure = DeliveryFailed("provider down", retryable=True)
        verification_id = live.start().json()["verification_id"]
        assert "failed" == _late(live, verification_id, "123456")["reason"]

    def test_by_destination_after_cancel(self, live: LiveApi) -> None:
        """A cancel releases the destination: a check by destination finds nothing to name."""
        verification_id, code = live.started()
        live.cancel(verification_id)
        response = live.post("/v1/verification-checks", {"to": PHONE, "code": code})
        assert 404 == response.status_code
        assert "reason" not in response.json()


class TestOnlyTheOwner:
    def test_other_clients_get_a_plain_404(self, live: LiveApi) -> None:
        """Another client learns nothing: no reason, the plain detail."""
        verification_id, code = live.started()
        live.check(verification_id, code)
        problem = _late(live, verification_id, code, client="globex")
        assert "reason" not in problem
        assert "No pending verification has this id." == problem["detail"]

    def test_unknown_ids_have_no_reason(self, live: LiveApi) -> None:
        """An id that names nothing has no reason."""
        assert "reason" not in _late(live, "vf_" + "0" * 32, "123456")
