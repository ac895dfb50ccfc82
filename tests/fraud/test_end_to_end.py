"""
The pumping guard end to end, over real HTTP: SMS through the real ``twilio`` client to the
Twilio double, the Twilio Verify face driven by the real ``twilio`` client, and the admin API.
An attack on one range is refused (60410 on ``/v2``, ``suspected-fraud`` on ``/v1``) while
legitimate numbers of the same country still get their codes.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import redis
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client as TwilioClient

from otp_service import create_app
from otp_service.config.clients import TwilioVerifyAccount
from otp_service.config.settings import Settings
from otp_service.core.models import Policy
from tests.conftest import make_clients
from tests.live_http import serving
from tests.servers.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioDouble
from tests.support import FakeClock, auth, code_in
from tests.twilio_verify.test_twilio_verify import SERVICE_SID, LocalTwilioHttpClient

RANGE = "+2348031"  # a Nigerian mobile range the attack pumps


@pytest.fixture(name="twilio_double")
def _twilio_double() -> Iterator[TwilioDouble]:
    with TwilioDouble() as double:
        yield double


@pytest.fixture(name="base_url")
def _base_url(
    settings: Settings, twilio_double: TwilioDouble, clock: FakeClock, redis_client: redis.Redis
) -> Iterator[str]:
    """The service in block mode, sending SMS through the Twilio double, on real HTTP."""
    account = TwilioVerifyAccount(
        ACCOUNT_SID, hashlib.sha256(AUTH_TOKEN.encode()).hexdigest(), {SERVICE_SID: "acme"}
    )
    changed = replace(
        settings,
        env="production",
        api_keys=make_clients(Policy(ip_starts="10000/hour")),
        sms_provider="twilio",
        email_provider="none",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from=FROM_NUMBER,
        twilio_api_base=twilio_double.url,
        twilio_verify_accounts=(account,),
        fraud_guard="block",
    )
    with serving(create_app(changed, clock=clock)) as base:
        yield base


@pytest.fixture(name="verify")
def _verify(base_url: str) -> Iterator[Any]:
    """``client.verify.v2.services(SERVICE_SID)`` of a real twilio ``Client``."""
    http_client = LocalTwilioHttpClient(base_url)
    yield TwilioClient(ACCOUNT_SID, AUTH_TOKEN, http_client=http_client).verify.v2.services(
        SERVICE_SID
    )
    http_client.session.close()


def _attack_numbers() -> Iterator[str]:
    draw = random.Random(11)
    while True:
        yield RANGE + "".join(draw.choice("0123456789") for _ in range(6))


def _pump_until_refused(verify: Any, clock: FakeClock) -> tuple[int, TwilioRestException]:
    """Start verifications to the range on /v2, never checked, until Twilio's face refuses."""
    for sent, to in enumerate(_attack_numbers()):
        assert sent <= 50, "the attack was not blocked within 50 sends"
        clock.advance(10)
        try:
            verify.verifications.create(to=to, channel="sms")
        except TwilioRestException as refused:
            return sent, refused
    raise AssertionError("unreachable")


def _start(base_url: str, to: str) -> requests.Response:
    return requests.post(
        f"{base_url}/v1/verifications",
        json={"to": to, "channel": "sms"},
        headers=auth(),
        timeout=10,
    )


def test_an_attack_is_refused_on_both_faces_and_legit_numbers_pass(
    base_url: str, verify: Any, clock: FakeClock, twilio_double: TwilioDouble
) -> None:
    delivered, refused = _pump_until_refused(verify, clock)
    assert (403, 60410) == (refused.status, refused.code)
    assert RANGE in str(refused.msg)
    pumped = [r for r in twilio_double.requests if (r.field("To") or "").startswith(RANGE)]
    assert delivered == len(pumped)

    problem = _start(base_url, RANGE + "123456")
    assert 403 == problem.status_code
    body = problem.json()
    assert "/problems/suspected-fraud" == body["type"]
    assert RANGE == body["prefix"]
    assert body["blocked_until"].endswith("Z")
    assert delivered == len(
        [r for r in twilio_double.requests if (r.field("To") or "").startswith(RANGE)]
    )

    metrics = requests.get(f"{base_url}/metrics", timeout=10).text
    assert 'otp_fraud_guard_decisions_total{country="NG",decision="blocked"} 1.0' in metrics
    assert 'otp_fraud_guard_decisions_total{country="NG",decision="refused"} 1.0' in metrics

    for legit in ("+2347031234567", "+2348051234567", "+14155550100"):
        started = _start(base_url, legit)
        assert 201 == started.status_code, started.text
        code = code_in(twilio_double.messages_to(legit)[-1].field("Body") or "")
        checked = requests.post(
            f"{base_url}/v1/verifications/{started.json()['id']}/check",
            json={"code": code},
            headers=auth(),
            timeout=10,
        )
        assert "approved" == checked.json()["status"]


def test_an_admin_lists_the_block_and_ends_it(base_url: str, verify: Any, clock: FakeClock) -> None:
    _pump_until_refused(verify, clock)
    listed = requests.get(f"{base_url}/v1/fraud/blocks", headers=auth(), timeout=10)
    assert 200 == listed.status_code
    [block] = listed.json()["blocks"]
    assert "block" == listed.json()["mode"]
    assert (RANGE, "NG", "block") == (block["prefix"], block["country"], block["mode"])
    assert block["figures"]["excess"] > block["figures"]["threshold"]
    assert {"window", "sends", "approvals", "expected_conversion"} <= set(block["figures"])

    ended = requests.delete(f"{base_url}/v1/fraud/blocks/%2B2348031", headers=auth(), timeout=10)
    assert 204 == ended.status_code
    assert (
        []
        == requests.get(f"{base_url}/v1/fraud/blocks", headers=auth(), timeout=10).json()["blocks"]
    )
    assert 201 == _start(base_url, RANGE + "123456").status_code


@pytest.mark.parametrize(
    ("path", "status", "slug"),
    [
        ("%2B2348031", 404, "fraud-block-not-found"),
        ("US", 404, "fraud-block-not-found"),
        ("nope", 422, "validation-error"),
        ("%2B12x", 422, "validation-error"),
    ],
)
def test_ending_a_block_that_is_not_there(base_url: str, path: str, status: int, slug: str) -> None:
    answer = requests.delete(f"{base_url}/v1/fraud/blocks/{path}", headers=auth(), timeout=10)
    assert (status, f"/problems/{slug}") == (answer.status_code, answer.json()["type"])


@pytest.mark.parametrize("client", ["starter", "checker"])
def test_only_admin_keys_reach_the_blocks(base_url: str, client: str) -> None:
    listed = requests.get(f"{base_url}/v1/fraud/blocks", headers=auth(client), timeout=10)
    ended = requests.delete(f"{base_url}/v1/fraud/blocks/US", headers=auth(client), timeout=10)
    assert (403, 403) == (listed.status_code, ended.status_code)
