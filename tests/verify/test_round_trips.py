"""
Redis round trips (writes to a connection: a pipeline is one) of a start and a check, with the
pumping guard counting and the conversion figures on, as in production.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
import redis

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.models import Channel, Policy
from otp_service.web.context import EXTENSION_KEY
from tests.conftest import make_clients
from tests.support import Api, CapturingSender, FakeClock


def _round_trips(monkeypatch: pytest.MonkeyPatch, action: Callable[[], object]) -> int:
    writes = []
    send = redis.connection.AbstractConnection.send_packed_command

    def counted(self: redis.connection.AbstractConnection, *args: object, **kwargs: object) -> None:
        writes.append(1)
        send(self, *args, **kwargs)  # type: ignore[no-untyped-call]

    with monkeypatch.context() as patch:
        patch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
        action()
    return len(writes)


@pytest.fixture(name="guarded")
def _guarded(settings: Settings, clock: FakeClock) -> Api:
    """The API with the pumping guard counting (monitor) and five starts an hour for ``acme``."""
    settings = dataclasses.replace(
        settings, fraud_guard="monitor", api_keys=make_clients(Policy(client_starts="5/hour"))
    )
    sender = CapturingSender()
    app = create_app(settings, clock=clock, senders={Channel.SMS: sender})
    app.extensions[EXTENSION_KEY].store.load_scripts()
    api = Api(app.test_client(), sender)
    verification_id, code = api.started("+14155550199")
    assert api.check(verification_id, code).get_json()["valid"]  # every script is loaded now
    return api


def test_a_new_start_is_three_round_trips(guarded: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Admit (limits, lockout, pumping guard), create (limits counted), then one pipeline with
    the delivery status and the conversion count."""
    response = []
    trips = _round_trips(monkeypatch, lambda: response.append(guarded.start("+14155550100")))
    assert 201 == response[0].status_code
    assert 3 == trips


def test_a_right_check_is_three_round_trips(guarded: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reserve, approve, then one pipeline with the conversion and the pumping guard's counts."""
    verification_id, code = guarded.started("+14155550101")
    response = []
    trips = _round_trips(monkeypatch, lambda: response.append(guarded.check(verification_id, code)))
    assert response[0].get_json()["valid"]
    assert 3 == trips


def test_a_rate_limited_start_is_one_round_trip(
    guarded: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The client's starts are used up: the admission script refuses, nothing else is sent."""
    for number in range(4):
        guarded.started(f"+1415555011{number}")
    response = []
    trips = _round_trips(monkeypatch, lambda: response.append(guarded.start("+14155550104")))
    assert (429, "client_starts") == (response[0].status_code, response[0].get_json()["limit"])
    assert 1 == trips


def test_a_resend_is_five_round_trips(
    guarded: Api, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Admit (a pending verification found: the admission read the index), read the
    verification, admit the resend, resend with its limits counted, then the pipeline after the
    send."""
    guarded.started("+14155550105")
    clock.advance(31)  # past the resend cooldown
    assert 200 == guarded.start("+14155550105").status_code  # loads the resend's scripts
    clock.advance(31)
    response = []
    trips = _round_trips(monkeypatch, lambda: response.append(guarded.start("+14155550105")))
    assert 200 == response[0].status_code
    assert 5 == trips
