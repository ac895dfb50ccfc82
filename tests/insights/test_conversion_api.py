"""
GET /v1/insights/conversion: the hourly figures of real verifications, by country, channel and
prefix; a check key reads its own client's, an admin key every client's; bad input is a 422.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.errors import DeliveryFailed
from otp_service.core.models import Channel, Policy
from tests.conftest import make_clients
from tests.support import EMAIL, PHONE, Api, CapturingSender, FakeClock, auth

CONVERSION = "/v1/insights/conversion"
GB_PHONE = "+447400123456"


@pytest.fixture(name="api")
def _api(settings: Settings, clock: FakeClock, sender: CapturingSender) -> Api:
    """Clients that may resend at once."""
    changed = dataclasses.replace(
        settings, api_keys=make_clients(Policy(resend_cooldown_seconds=0))
    )
    app: Flask = create_app(changed, clock=clock, senders=dict.fromkeys(Channel, sender))
    return Api(app.test_client(), sender)


def _rows(http: FlaskClient, key: str = "acme", **query: str) -> dict[str, dict[str, Any]]:
    """The rows by country, read with the API key of client ``key``."""
    response = http.get(CONVERSION, query_string={"by": "country", **query}, headers=auth(key))
    assert 200 == response.status_code, response.get_json()
    return {row.pop("key"): row for row in response.get_json()["rows"]}


def _approved(api: Api, to: str = PHONE, channel: Channel = Channel.SMS) -> None:
    verification_id, code = api.started(to, channel)
    assert 200 == api.check(verification_id, code).status_code


class TestFigures:
    def test_a_verification_counts_started_sent_and_approved(self, api: Api) -> None:
        """One approved verification: 1 started, 1 sent, 1 approved, conversion 1."""
        _approved(api)
        expected = {"started": 1, "sent": 1, "approved": 1, "failed": 0, "conversion": 1.0}
        assert {"US": expected} == _rows(api.http)

    def test_a_resend_is_one_more_send_and_halves_conversion(self, api: Api) -> None:
        """A resend counts as a code sent, not as a start: 1 approved per 2 sent is 0.5."""
        assert 201 == api.start().status_code
        verification_id = api.start().get_json()["id"]  # the resend (200)
        api.check(verification_id, api.sender.last_code(PHONE))
        expected = {"started": 1, "sent": 2, "approved": 1, "failed": 0, "conversion": 0.5}
        assert {"US": expected} == _rows(api.http)

    def test_a_refused_code_counts_as_started_and_failed(self, api: Api) -> None:
        """A provider refusing the first code: started and failed, nothing sent (no conversion)."""
        api.sender.failure = DeliveryFailed("refused", retryable=False)
        assert 502 == api.start().status_code
        expected = {"started": 1, "sent": 0, "approved": 0, "failed": 1, "conversion": None}
        assert {"US": expected} == _rows(api.http)

    @pytest.mark.parametrize(
        ("by", "keys"),
        [
            ("country", {"US", "GB", None}),
            ("channel", {"sms", "email"}),
            ("prefix", {"+1415", "+44740", None}),
        ],
    )
    def test_rows_break_down_by_what_is_asked(self, api: Api, by: str, keys: set[Any]) -> None:
        """Country (ISO, null for email), channel, or prefix (country and area code)."""
        _approved(api)
        _approved(api, GB_PHONE)
        _approved(api, EMAIL, Channel.EMAIL)
        response = api.http.get(CONVERSION, query_string={"by": by}, headers=auth())
        assert keys == {row["key"] for row in response.get_json()["rows"]}

    def test_the_window_takes_the_hours_it_overlaps(self, api: Api, clock: FakeClock) -> None:
        """A verification two hours ago is outside a window of the last hour, inside 3 hours."""
        _approved(api)
        clock.advance(2 * 3600)
        now = clock.ms // 1000
        assert {} == _rows(api.http, **{"from": _iso(now - 3600), "to": _iso(now)})
        assert {"US"} == set(_rows(api.http, **{"from": _iso(now - 3 * 3600), "to": _iso(now)}))

    def test_a_window_far_in_the_future_reads_only_kept_hours(self, api: Api) -> None:
        """A `to` in year 9999 is answered at once (it used to walk every hour up to it)."""
        _approved(api)
        started = time.monotonic()
        assert {"US"} == set(
            _rows(api.http, **{"from": "2000-01-01T00:00:00Z", "to": "9999-12-31T00:00:00Z"})
        )
        assert time.monotonic() - started < 5

    def test_the_answer_names_its_window(self, api: Api) -> None:
        """``from`` and ``to`` come back in UTC; a time without an offset is UTC."""
        query = {"by": "channel", "from": "2027-01-15T08:00:00", "to": "2027-01-15T10:30:00+01:00"}
        body = api.http.get(CONVERSION, query_string=query, headers=auth()).get_json()
        assert ("2027-01-15T08:00:00Z", "2027-01-15T09:30:00Z") == (body["from"], body["to"])


class TestAccess:
    def test_a_check_key_reads_only_its_own_client(self, api: Api) -> None:
        """The ``checker`` client sees none of acme's figures."""
        _approved(api)
        assert {} == _rows(api.http, "checker")

    def test_an_admin_key_reads_every_client_or_one(self, api: Api) -> None:
        """acme (admin) reads globex's figures with its own, or globex's alone."""
        _approved(api)
        assert 201 == api.start(GB_PHONE, client="globex").status_code
        assert {"US", "GB"} == set(_rows(api.http))
        assert {"GB"} == set(_rows(api.http, client="globex"))

    @pytest.mark.parametrize(
        ("client", "query"),
        [("starter", {}), ("checker", {"client": "acme"})],
        ids=["start-only-key", "another-client"],
    )
    def test_others_are_forbidden(self, http: FlaskClient, client: str, query: Any) -> None:
        """A start-only key, or a check key naming another client: 403."""
        query = {"by": "country", **query}
        response = http.get(CONVERSION, query_string=query, headers=auth(client))
        assert (403, "application/problem+json") == (response.status_code, response.mimetype)


class TestBadInput:
    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({}, "by"),
            ({"by": "carrier"}, "by"),
            ({"by": "country", "from": "yesterday"}, "from"),
            ({"by": "country", "from": "2027-01-02T00:00Z", "to": "2027-01-01T00:00Z"}, "query"),
            ({"by": "country", "colour": "red"}, "colour"),
            ({"by": "country", "client": "a b"}, "client"),
        ],
        ids=["no-by", "unknown-by", "bad-time", "backwards", "unknown-parameter", "bad-client"],
    )
    def test_is_a_422_naming_the_field(self, http: FlaskClient, query: Any, field: str) -> None:
        """Each malformed query is a validation problem naming what is wrong."""
        response = http.get(CONVERSION, query_string=query, headers=auth())
        assert (422, "application/problem+json") == (response.status_code, response.mimetype)
        assert field in {error["field"] for error in response.get_json()["errors"]}

    def test_redis_down_is_a_503(self, down_http: FlaskClient) -> None:
        """No figures from memory: 503 with Retry-After."""
        response = down_http.get(CONVERSION, query_string={"by": "country"}, headers=auth())
        assert 503 == response.status_code
        assert response.headers["Retry-After"]


def _iso(seconds: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
