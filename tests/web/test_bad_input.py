"""Invariant 8: bad input of any kind is a problem+json 4xx, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import PHONE, Api, auth

START = "/v1/verifications"


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert status == response.status_code, response.get_data(as_text=True)
    assert "application/problem+json" == response.mimetype
    body: dict[str, Any] = response.get_json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert status == body["status"]
    return body


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"to": PHONE},
        {"channel": "sms"},
        {"to": 14155550100, "channel": "sms"},
        {"to": None, "channel": "sms"},
        {"to": [PHONE], "channel": "sms"},
        {"to": PHONE, "channel": "SMS "},
        {"to": PHONE, "channel": "sms", "unexpected": 1},
        {"to": PHONE, "channel": "sms", "locale": "en\r\nX-Injected: 1"},
        {"to": PHONE, "channel": "sms", "context": {"ip": "not-an-ip"}},
        {"to": "+1415555010\r\nBcc: evil@example.com", "channel": "sms"},
        {"to": "alice@example.com\r\nBcc: evil@example.com", "channel": "email"},
        {"to": "not a phone", "channel": "sms"},
        {"to": "+1800FLOWERS", "channel": "sms"},
        {"to": "+12015550123x", "channel": "sms"},
        {"to": "+442071838750", "channel": "sms"},
        {"to": "alice@", "channel": "email"},
        {"to": PHONE, "channel": "email"},
        {"to": "a" * 400 + "@example.com", "channel": "email"},
        {
            "to": "+\u0661\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0660\u0660",
            "channel": "sms",
        },
    ],
)
def test_start_with_invalid_fields_is_422(api: Api, body: dict[str, Any]) -> None:
    """Every invalid start body is a 422 validation problem listing the fields."""
    problem = _problem(api.http.post(START, json=body, headers=auth()), 422)
    assert problem["errors"]
    assert [] == api.sender.sent


@pytest.mark.parametrize(
    "code",
    [
        "12345",  # too short for the policy
        "12 34 56",
        " 123456",
        "123456 ",
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # fullwidth digits
        "\u0661\u0662\u0663\u0664\u0665\u0666",  # Arabic-Indic digits
        "12345a",
        "",
        "1" * 11,
    ],
)
def test_malformed_codes_are_422_and_use_no_attempt(api: Api, code: str) -> None:
    """Codes that are not the policy's number of ASCII digits are 422; no attempt is used."""
    verification_id, _ = api.started()
    _problem(api.check(verification_id, code), 422)
    shown = api.http.get(f"/v1/verifications/{verification_id}", headers=auth()).get_json()
    assert 5 == shown["attempts_remaining"]


@pytest.mark.parametrize("code", [123456, None, ["123456"], {"code": "123456"}, 123456.0, True])
def test_codes_of_the_wrong_type_are_422(api: Api, code: object) -> None:
    """A code that is not a JSON string is a 422."""
    verification_id, _ = api.started()
    response = api.http.post(
        f"/v1/verifications/{verification_id}/check", json={"code": code}, headers=auth()
    )
    _problem(response, 422)


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("to=+14155550100&channel=sms", "application/x-www-form-urlencoded", 415),
        ("{}", "text/plain", 415),
        ("", None, 415),
        ("{not json", "application/json", 400),
        ("[1, 2]", "application/json", 400),
        ('"a string"', "application/json", 400),
        ("null", "application/json", 400),
        ("", "application/json", 400),
        ("[" * 5000 + "]" * 5000, "application/json", 400),
        (b"\xff\xfe\x00garbage", "application/json", 400),
        ('{"to": "' + "1" * 20_000 + '", "channel": "sms"}', "application/json", 413),
    ],
)
def test_unreadable_bodies_are_4xx(
    api: Api, data: str | bytes, content_type: str, status: int
) -> None:
    """Non-JSON is 415, malformed or non-object JSON 400, over 16 KiB 413."""
    headers = auth()
    if content_type:
        headers["Content-Type"] = content_type
    _problem(api.http.post(START, data=data, headers=headers), status)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/nope", 404),
        ("get", "/v1/verifications", 405),
        ("delete", "/v1/verifications/vf_00000000000000000000000000000000", 405),
        ("get", "/v1/verifications/vf_00000000000000000000000000000000/check", 405),
        ("get", "/v1/verifications/..%2F..%2Fetc%2Fpasswd", 404),
    ],
)
def test_routing_errors_are_problems(api: Api, method: str, path: str, status: int) -> None:
    """Routing 404 and 405 are problem+json too."""
    _problem(getattr(api.http, method)(path, headers=auth()), status)


def test_codes_never_travel_in_query_strings(api: Api) -> None:
    """A code in the query string is not read: the body decides (here: missing → 422)."""
    verification_id, code = api.started()
    response = api.http.post(
        f"/v1/verifications/{verification_id}/check?code={code}", json={}, headers=auth()
    )
    _problem(response, 422)


def test_problem_detail_does_not_echo_input(api: Api) -> None:
    """Validation problems name fields, not the values sent."""
    secret = "+14155550199"
    response = api.http.post(START, json={"to": secret, "channel": "fax"}, headers=auth())
    assert secret not in json.dumps(response.get_json())
