"""The happy path through the HTTP API."""

from __future__ import annotations

from tests.support import PHONE, Api


def test_start_then_check_approves(api: Api) -> None:
    """A started verification approves with the code that was sent."""
    verification_id, code = api.started()
    response = api.check(verification_id, code)
    assert 200 == response.status_code
    assert {
        "id": verification_id,
        "status": "approved",
        "valid": True,
        "attempts_remaining": 4,
    } == (response.get_json())
    assert api.sender.sent[-1].to == PHONE
