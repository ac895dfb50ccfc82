"""
Logs: JSON lines on stdout, one canonical line per request, and never a code or a full destination.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.models import Channel
from tests.support import EMAIL, PHONE, Api, CapturingSender, FakeClock, auth


@pytest.fixture(name="logged")
def _logged(
    capsys: pytest.CaptureFixture[str], settings: Settings, clock: FakeClock
) -> Iterator[Callable[[], Api]]:
    """
    Makes an API driver whose app logs into ``capsys``. Call it in the test: the app's handler
    takes ``sys.stdout`` as it is then, and capsys's stream is in place only while the test runs.
    The sender is a capturing one: the dev sender, which logs codes on purpose, is not in play.
    """

    def make() -> Api:
        sender = CapturingSender()
        senders = {Channel.SMS: sender, Channel.EMAIL: sender}
        return Api(create_app(settings, clock=clock, senders=senders).test_client(), sender)

    yield make
    # The handler writes to capsys's stream, which closes after this test: take it away.
    root = logging.getLogger("otp_service")
    for handler in [h for h in root.handlers if getattr(h, "otp_service_handler", False)]:
        root.removeHandler(handler)


def json_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """Every line written to stdout so far, each parsed as one JSON object."""
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]
    assert all(isinstance(entry, dict) for entry in parsed)
    return parsed


def full_flow(api: Api, to: str, channel: Channel) -> list[str]:
    """Start, check a wrong code, check the right one, start again and cancel; the codes sent."""
    first = api.start(to, channel).get_json()["id"]
    code = api.sender.last_code(to)
    api.check(first, "000000" if code != "000000" else "111111")
    assert 200 == api.check(first, code).status_code
    second = api.start(to, channel).get_json()["id"]
    assert 200 == api.http.post(f"/v1/verifications/{second}/cancel", headers=auth()).status_code
    return [api.sender.last_code(to), code]


@pytest.mark.parametrize(("to", "channel"), [(PHONE, Channel.SMS), (EMAIL, Channel.EMAIL)])
def test_no_line_holds_a_code_or_the_destination(
    logged: Callable[[], Api], capsys: pytest.CaptureFixture[str], to: str, channel: Channel
) -> None:
    """A whole flow logs lines, none with a code sent or the full destination in it."""
    codes = full_flow(logged(), to, channel)
    lines = [json.dumps(entry) for entry in json_lines(capsys)]
    assert len(lines) >= 5  # one canonical line per request at least
    leaks = [line for line in lines if any(secret in line for secret in [*codes, to, to[1:]])]
    assert [] == leaks


def test_each_request_has_one_canonical_line(
    logged: Callable[[], Api], capsys: pytest.CaptureFixture[str]
) -> None:
    """The request line carries request id, route, status, latency, client and verification id."""
    api = logged()
    verification_id, code = api.started()
    capsys.readouterr()
    response = api.http.post(
        f"/v1/verifications/{verification_id}/check",
        json={"code": code},
        headers={**auth(), "X-Request-ID": "req-42"},
    )
    requests = [entry for entry in json_lines(capsys) if entry["logger"] == "otp_service.access"]
    assert 1 == len(requests)
    line = requests[0]
    assert "req-42" == response.headers["X-Request-ID"]
    assert {
        "request_id": "req-42",
        "method": "POST",
        "route": "/v1/verifications/<verification_id>/check",
        "status": 200,
        "client": "acme",
        "verification_id": verification_id,
    } == {
        key: line[key]
        for key in ("request_id", "method", "route", "status", "client", "verification_id")
    }
    assert isinstance(line["latency_ms"], float)
    assert line["latency_ms"] >= 0


def test_an_anonymous_request_is_logged_too(
    logged: Callable[[], Api], capsys: pytest.CaptureFixture[str]
) -> None:
    """A request without a key still gets its line: no client, its status."""
    logged().http.get("/v1/verifications/vf_" + "0" * 32)
    [line] = [entry for entry in json_lines(capsys) if entry["logger"] == "otp_service.access"]
    assert (401, None) == (line["status"], line["client"])
