"""
Verification attempts on ``/v2`` through the official ``twilio`` client over real HTTP, every answer
validated against Twilio's OpenAPI document: ``verification_attempts_summary().fetch()`` counts
codes sent and approved, ``verification_attempts.list()`` pages through each send.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from twilio.base.exceptions import TwilioException

from tests.support import PHONE, CapturingSender, FakeClock
from tests.twilio_verify.test_twilio_verify import (  # noqa: F401 (fixtures)
    GLOBEX_SERVICE_SID,
    SERVICE_SID,
    STARTER_SERVICE_SID,
    UNKNOWN_SERVICE_SID,
    LocalTwilioHttpClient,
    _base_url,
    _channels,
    _client,
    _http_client,
    _overrides,
    _refused,
    _service,
)

GB_PHONE = "+447400123456"


@pytest.fixture(name="traffic")
def _traffic(service: Any, sender: CapturingSender, clock: FakeClock) -> str:
    """A US verification sent twice and approved, a GB one sent once: 3 attempts, 1 converted.
    Its value is the SID of the US verification."""
    sid: str = service.verifications.create(to=PHONE, channel="sms").sid
    clock.advance(31)
    service.verifications.create(to=PHONE, channel="sms")  # the resend
    service.verification_checks.create(verification_sid=sid, code=sender.last_code(PHONE))
    clock.advance(1)
    service.verifications.create(to=GB_PHONE, channel="sms")
    return sid


def _summary(http_client: LocalTwilioHttpClient, **filters: Any) -> tuple[int, int, int, Any]:
    summary = _client(http_client).verify.v2.verification_attempts_summary().fetch(**filters)
    return (
        summary.total_attempts,
        summary.total_converted,
        summary.total_unconverted,
        summary.conversion_rate_percentage,
    )


@pytest.mark.usefixtures("traffic")
class TestSummary:
    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({}, (3, 1, 2, "33.333333333")),
            ({"country": "US"}, (2, 1, 1, "50")),
            ({"country": "GB"}, (1, 0, 1, "0")),
            ({"channel": "sms", "destination_prefix": "+1"}, (2, 1, 1, "50")),
            ({"destination_prefix": "+44740"}, (1, 0, 1, "0")),
            ({"channel": "call"}, (0, 0, 0, None)),
            ({"verify_service_sid": GLOBEX_SERVICE_SID}, (0, 0, 0, None)),
        ],
        ids=["all", "us", "gb", "sms-plus-1", "gb-prefix", "no-calls", "another-service"],
    )
    def test_counts_codes_sent_and_approved(
        self, http_client: LocalTwilioHttpClient, filters: Any, expected: Any
    ) -> None:
        """Attempts are codes sent, converted ones approved, as Twilio's client reads them."""
        assert expected == _summary(http_client, **filters)

    def test_dates_are_taken_to_the_hour(
        self, http_client: LocalTwilioHttpClient, clock: FakeClock
    ) -> None:
        """The hour of the sends is in a window that overlaps it, not in the next hour's."""
        sent = datetime.fromtimestamp(clock.ms / 1000, UTC)
        inside = {"date_created_after": sent, "date_created_before": sent + timedelta(minutes=1)}
        later = {"date_created_after": sent + timedelta(hours=1)}
        assert 3 == _summary(http_client, **inside)[0]
        assert 0 == _summary(http_client, **later)[0]

    def test_a_prefix_finer_than_counted_is_refused(
        self, http_client: LocalTwilioHttpClient
    ) -> None:
        """``+14155`` names part of ``+1415``, which is all that was counted: 400 60200."""
        error = _refused(_summary, http_client, destination_prefix="+14155")
        assert (400, 60200) == (error.status, error.code)


class TestList:
    def test_lists_each_send_newest_first(
        self, http_client: LocalTwilioHttpClient, traffic: str
    ) -> None:
        """Three attempts; the US resend is the converted one; destinations stay masked."""
        attempts = _client(http_client).verify.v2.verification_attempts.list()
        assert ["unconverted", "converted", "unconverted"] == [
            attempt.conversion_status for attempt in attempts
        ]
        converted = attempts[1]
        assert (traffic, SERVICE_SID, "sms") == (
            converted.verification_sid,
            converted.service_sid,
            converted.channel,
        )
        assert {"to": "+1415*****00", "country": "US", "status": "confirmed"}.items() <= (
            converted.channel_data.items()
        )

    @pytest.mark.parametrize(
        ("filters", "count"),
        [
            ({"status": "converted"}, 1),
            ({"country": "GB"}, 1),
            ({"channel_data_to": PHONE}, 2),
            ({"channel": "email"}, 0),
            ({"verify_service_sid": SERVICE_SID}, 3),
        ],
        ids=["converted", "gb", "to", "email", "service"],
    )
    @pytest.mark.usefixtures("traffic")
    def test_filters(self, http_client: LocalTwilioHttpClient, filters: Any, count: int) -> None:
        """Status, country, destination, channel and service filter the list."""
        listed = _client(http_client).verify.v2.verification_attempts.list(**filters)
        assert count == len(listed)

    def test_pages_follow_next_page_url(
        self, http_client: LocalTwilioHttpClient, traffic: str
    ) -> None:
        """One attempt a page: the client follows ``next_page_url`` through all three."""
        attempts = _client(http_client).verify.v2.verification_attempts
        assert 3 == len({attempt.sid for attempt in attempts.list(page_size=1)})
        assert 2 == len(attempts.list(verification_sid=traffic, page_size=1))

    def test_a_verification_names_its_attempts(
        self, service: Any, http_client: LocalTwilioHttpClient, traffic: str
    ) -> None:
        """``send_code_attempts[].attempt_sid`` of a verification are its listed attempts."""
        sends = service.verifications(traffic).fetch().send_code_attempts
        attempts = _client(http_client).verify.v2.verification_attempts
        listed = attempts.list(verification_sid=traffic)
        assert [attempt.sid for attempt in reversed(listed)] == [s["attempt_sid"] for s in sends]

    @pytest.mark.usefixtures("traffic")
    def test_fetches_one_by_sid(self, http_client: LocalTwilioHttpClient) -> None:
        """``verification_attempts(sid).fetch()`` reads back a listed attempt."""
        client = _client(http_client)
        listed = client.verify.v2.verification_attempts.list(status="converted")[0]
        fetched = client.verify.v2.verification_attempts(listed.sid).fetch()
        assert (listed.sid, "converted") == (fetched.sid, fetched.conversion_status)
        missing = _refused(client.verify.v2.verification_attempts("VL" + "0" * 32).fetch)
        assert (404, 20404) == (missing.status, missing.code)


class TestAccess:
    @pytest.mark.parametrize(
        ("service_sid", "status", "code"),
        [(STARTER_SERVICE_SID, 403, 20403), (UNKNOWN_SERVICE_SID, 404, 20404)],
        ids=["start-only-client", "unknown-service"],
    )
    def test_a_service_that_may_not_read(
        self, http_client: LocalTwilioHttpClient, service_sid: str, status: int, code: int
    ) -> None:
        """A service whose client may only start, or one the account lacks."""
        error = _refused(_summary, http_client, verify_service_sid=service_sid)
        assert (status, code) == (error.status, error.code)

    def test_wrong_credentials_are_401(self, http_client: LocalTwilioHttpClient) -> None:
        """A wrong auth token: 20003."""
        attempts = _client(http_client, "0" * 32).verify.v2.verification_attempts
        assert (401, 20003) == _page_refused(http_client, attempts.list)

    def test_a_bad_page_size_is_60200(self, http_client: LocalTwilioHttpClient) -> None:
        """``PageSize`` over 1000: invalid parameter."""
        attempts = _client(http_client).verify.v2.verification_attempts
        assert (400, 60200) == _page_refused(http_client, attempts.page, page_size=1001)


def _page_refused(http_client: LocalTwilioHttpClient, call: Any, **kwargs: Any) -> tuple[int, int]:
    """A refused page (the client raises a bare ``TwilioException``): Twilio's status and code."""
    with pytest.raises(TwilioException, match="Unable to fetch page"):
        call(**kwargs)
    body = http_client.last_json()
    return body["status"], body["code"]
