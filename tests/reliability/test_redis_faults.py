"""
Redis breaks on purpose: killed under load, paused, put to sleep, restarted empty. The service
fails closed (503 problem with ``Retry-After``, within the Redis timeout), never approves what it
should not, and recovers by itself (invariant 6 of docs/architecture.md).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from werkzeug.test import TestResponse

from otp_service.verify.records import named_fields
from otp_service.web.problems import PROBLEM_MEDIA_TYPE
from tests.gunicorn_server import running_gunicorn
from tests.reliability.support import (
    BEARER,
    REDIS_TIMEOUT_SECONDS,
    SLACK_SECONDS,
    FaultyRedis,
    Outcome,
    faulty_environ,
    new_phone,
    timed_call,
    twilio_environ,
    wrong_code,
)
from tests.servers.twilio_double import TwilioDouble
from tests.support import PHONE, Api, auth, code_in

#: What a request may take at most while Redis is down or hangs: one timeout, and scheduling.
BOUND_SECONDS = REDIS_TIMEOUT_SECONDS + SLACK_SECONDS
#: The same under load: six clients and two workers share two cores with Redis fsyncing.
LOAD_BOUND_SECONDS = REDIS_TIMEOUT_SECONDS + 2 * SLACK_SECONDS
STORE_UNAVAILABLE = "/problems/store-unavailable"


def assert_store_unavailable(
    status: int, content_type: str, body: dict[str, Any], retry: str
) -> None:
    """A 503 ``store-unavailable`` problem with a ``Retry-After`` of whole seconds."""
    assert (503, PROBLEM_MEDIA_TYPE, STORE_UNAVAILABLE) == (status, content_type, body.get("type"))
    assert retry.isdigit(), retry
    assert int(retry) >= 1


# Killed under load (gunicorn) ----------------------------------------------------------------


@dataclass
class LoadRun:
    """What the clients saw while Redis was killed and brought back, and what Redis holds after."""

    outcomes: list[Outcome]
    killed_at: float
    restarting_at: float
    restarted_at: float
    codes: dict[str, str]
    attempts: dict[str, int]
    max_attempts: int = 5

    def checks(self) -> list[Outcome]:
        """The check calls, right and wrong."""
        return [o for o in self.outcomes if o.kind.startswith("check")]


class _Load:
    """Client threads that start verifications and check them, right and wrong, until stopped."""

    def __init__(self, base: str, twilio: TwilioDouble, codes: dict[str, str]) -> None:
        self.base = base
        self.twilio = twilio
        self.codes = codes
        self.outcomes: list[Outcome] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()

    def start_one(self, session: requests.Session) -> Outcome:
        to = new_phone()
        outcome = timed_call(
            session,
            "POST",
            f"{self.base}/v1/verifications",
            "start",
            json={"to": to, "channel": "sms"},
            headers=BEARER,
        )
        if outcome.status == 201:
            (message,) = self.twilio.messages_to(to)
            with self._lock:
                self.codes[outcome.body["id"]] = code_in(message.field("Body") or "")
        return outcome

    def check_one(self, session: requests.Session, rng: random.Random) -> Outcome:
        with self._lock:
            verification_id, code = rng.choice(sorted(self.codes.items()))
        is_right = rng.random() < 0.4
        sent = code if is_right else wrong_code(code)
        return timed_call(
            session,
            "POST",
            f"{self.base}/v1/verifications/{verification_id}/check",
            "check-right" if is_right else "check-wrong",
            verification_id=verification_id,
            code=sent,
            json={"code": sent},
            headers=BEARER,
        )

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        with requests.Session() as session:
            while not self.stop.is_set():
                if rng.random() < 0.3:
                    outcome = self.start_one(session)
                else:
                    outcome = self.check_one(session, rng)
                with self._lock:
                    self.outcomes.append(outcome)
                time.sleep(0.005)


@pytest.fixture(name="killed_run", scope="module")
def _killed_run() -> Iterator[LoadRun]:
    """Six clients start and check for 1 s; Redis is killed for 1.5 s, then back for 2 s."""
    codes: dict[str, str] = {}
    with (
        FaultyRedis(is_durable=True) as redis_server,
        TwilioDouble() as twilio,
        running_gunicorn(
            faulty_environ(redis_server.url, "kill", **twilio_environ(twilio.url)),
            workers=2,
            threads=8,
        ) as base,
    ):
        load = _Load(base, twilio, codes)
        with requests.Session() as session:
            for _ in range(10):
                assert 201 == load.start_one(session).status
        threads = [threading.Thread(target=load.run, args=(seed,)) for seed in range(6)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.0)
            redis_server.kill()
            killed_at = time.monotonic()
            time.sleep(1.5)
            restarting_at = time.monotonic()
            redis_server.restart()
            restarted_at = time.monotonic()
            time.sleep(2.0)
        finally:
            load.stop.set()
            for thread in threads:
                thread.join(timeout=30)
        with redis_server.client() as admin:
            attempts = {
                verification_id: int(
                    named_fields(admin.hgetall(f"kill:vf:{{{verification_id}}}")).get("attempts")
                    or 0
                )
                for verification_id in codes
            }
        yield LoadRun(load.outcomes, killed_at, restarting_at, restarted_at, codes, attempts)


@pytest.mark.gunicorn
class TestRedisKilledUnderLoad:
    """Redis is SIGKILLed while clients start and check through gunicorn, then restarted."""

    def test_every_request_during_the_outage_is_a_503_problem(self, killed_run: LoadRun) -> None:
        """Each call made and answered while Redis was down is a 503 with Retry-After."""
        during = [
            o
            for o in killed_run.outcomes
            if o.started >= killed_run.killed_at and o.finished <= killed_run.restarting_at
        ]
        assert len(during) >= 20, "the clients made too few calls during the outage"
        for outcome in during:
            assert outcome.status is not None, outcome
            assert_store_unavailable(
                outcome.status,
                outcome.headers.get("Content-Type", ""),
                outcome.body,
                outcome.headers.get("Retry-After", ""),
            )

    def test_no_request_hangs(self, killed_run: LoadRun) -> None:
        """No call, before, during or after the outage, took longer than the Redis timeout."""
        slowest = max(killed_run.outcomes, key=lambda o: o.elapsed)
        assert slowest.elapsed <= LOAD_BOUND_SECONDS, (
            f"{slowest.kind} took {slowest.elapsed:.2f} s, answered {slowest.status}, sent "
            f"{slowest.started - killed_run.killed_at:+.2f} s after the kill and "
            f"{slowest.started - killed_run.restarted_at:+.2f} s after the restart"
        )

    def test_no_response_is_another_server_error(self, killed_run: LoadRun) -> None:
        """Every answer is one the contract allows; no 500, no dropped connection."""
        allowed = {"start": {201, 503}, "check-right": {200, 404, 429, 503}}
        allowed["check-wrong"] = allowed["check-right"]
        unexpected = [o for o in killed_run.outcomes if o.status not in allowed[o.kind]]
        assert [] == unexpected

    def test_service_recovers_by_itself(self, killed_run: LoadRun) -> None:
        """Half a second after Redis is back, every call is served again (no restart needed)."""
        after = [o for o in killed_run.outcomes if o.started >= killed_run.restarted_at + 0.5]
        assert len(after) >= 20, "the clients made too few calls after the outage"
        assert {"start": 0, "check": 0} == {
            kind: sum(1 for o in after if o.kind.startswith(kind) and o.status == 503)
            for kind in ("start", "check")
        }
        assert any(o.kind == "start" and o.status == 201 for o in after)

    def test_no_verification_is_approved_twice(self, killed_run: LoadRun) -> None:
        """At most one check of each verification was answered valid."""
        approvals = Counter(o.verification_id for o in killed_run.checks() if o.is_approval)
        assert approvals, "no check was approved: the load did not exercise approvals"
        assert [] == [vid for vid, count in approvals.items() if count > 1]

    def test_no_verification_is_approved_without_its_code(self, killed_run: LoadRun) -> None:
        """Every approval answered a check that sent the code the verification was sent."""
        wrongly = [
            o
            for o in killed_run.checks()
            if o.is_approval and o.code != killed_run.codes[o.verification_id or ""]
        ]
        assert [] == wrongly

    def test_no_verification_counts_more_checks_than_allowed(self, killed_run: LoadRun) -> None:
        """Redis holds at most max_attempts checks for each verification, and the evaluated
        checks the clients saw are all counted."""
        evaluated = Counter(o.verification_id for o in killed_run.checks() if o.status == 200)
        assert [] == [vid for vid, n in killed_run.attempts.items() if n > killed_run.max_attempts]
        assert [] == [vid for vid, n in evaluated.items() if n > killed_run.attempts[vid or ""]]


# Paused or asleep (in-process app) -----------------------------------------------------------

Call = Callable[[Api, str], TestResponse]
CALLS: dict[str, Call] = {
    "start": lambda api, _: api.start(new_phone()),
    "resend": lambda api, _: api.start(PHONE),
    "check": lambda api, vid: api.check(vid, "123456"),
    "check-by-destination": lambda api, _: api.http.post(
        "/v1/verification-checks", json={"to": PHONE, "code": "123456"}, headers=auth()
    ),
    "get": lambda api, vid: api.http.get(f"/v1/verifications/{vid}", headers=auth()),
    "cancel": lambda api, vid: api.http.post(f"/v1/verifications/{vid}/cancel", headers=auth()),
}


def timed(call: Call, api: Api, verification_id: str) -> tuple[float, TestResponse]:
    """The seconds ``call`` took, and its response."""
    started = time.monotonic()
    response = call(api, verification_id)
    return time.monotonic() - started, response


def assert_fails_fast(call: Call, api: Api, verification_id: str) -> None:
    """``call`` is a 503 store-unavailable problem within one Redis timeout."""
    elapsed, response = timed(call, api, verification_id)
    assert elapsed <= BOUND_SECONDS
    assert_store_unavailable(
        response.status_code,
        response.mimetype or "",
        response.get_json(),
        response.headers.get("Retry-After", ""),
    )


class TestRedisHangs:
    """Redis accepts connections but answers nothing for a while."""

    @pytest.mark.parametrize("name", CALLS)
    def test_paused_redis_is_a_fast_503(
        self, fault_api: Api, faulty_redis: FaultyRedis, name: str
    ) -> None:
        """Under CLIENT PAUSE ALL, each call fails as 503 within the socket timeout."""
        verification_id, _ = fault_api.started()
        faulty_redis.pause(10_000)  # the fixture kills the server: no need to wait it out
        assert_fails_fast(CALLS[name], fault_api, verification_id)

    @pytest.mark.slow
    @pytest.mark.parametrize("name", CALLS)
    def test_sleeping_redis_is_a_fast_503(
        self, fault_api: Api, faulty_redis: FaultyRedis, name: str
    ) -> None:
        """While Redis runs DEBUG SLEEP, each call fails as 503 within the socket timeout."""
        verification_id, _ = fault_api.started()
        faulty_redis.sleep_in_background(10)
        assert_fails_fast(CALLS[name], fault_api, verification_id)

    def test_readiness_fails_fast(self, fault_api: Api, faulty_redis: FaultyRedis) -> None:
        """/readyz answers 503 with Retry-After within the socket timeout; /livez stays 200."""
        faulty_redis.pause(10_000)
        elapsed, response = timed(lambda api, _: api.http.get("/readyz"), fault_api, "")
        assert elapsed <= BOUND_SECONDS
        assert (503, "2") == (response.status_code, response.headers.get("Retry-After"))
        assert 200 == fault_api.http.get("/livez").status_code

    def test_service_answers_again_when_the_pause_ends(
        self, fault_api: Api, faulty_redis: FaultyRedis
    ) -> None:
        """A check refused during a pause works once Redis answers again; the refusal cost no
        attempt."""
        verification_id, code = fault_api.started()
        faulty_redis.pause(800)
        assert 503 == fault_api.check(verification_id, code).status_code
        time.sleep(0.8)
        response = fault_api.check(verification_id, code)
        assert (200, "approved", 4) == (
            response.status_code,
            response.get_json()["status"],
            response.get_json()["attempts_remaining"],
        )


# Restarted empty (in-process app) ------------------------------------------------------------


class TestRedisRestartedEmpty:
    """Redis restarts on the same port with no data: what was pending is gone, cleanly."""

    @pytest.mark.parametrize("name", ["check", "check-by-destination", "get", "cancel"])
    def test_pending_verification_is_404(
        self, fault_api: Api, faulty_redis: FaultyRedis, name: str
    ) -> None:
        """A verification started before the restart is a 404 problem after it."""
        verification_id, _ = fault_api.started()
        faulty_redis.kill()
        faulty_redis.restart()
        response = CALLS[name](fault_api, verification_id)
        assert (404, PROBLEM_MEDIA_TYPE, "/problems/verification-not-found") == (
            response.status_code,
            response.mimetype,
            response.get_json()["type"],
        )

    def test_right_code_of_a_lost_verification_is_not_approved(
        self, fault_api: Api, faulty_redis: FaultyRedis
    ) -> None:
        """The code sent before the restart approves nothing after it."""
        verification_id, code = fault_api.started()
        faulty_redis.kill()
        faulty_redis.restart()
        assert 404 == fault_api.check(verification_id, code).status_code

    def test_new_start_works(self, fault_api: Api, faulty_redis: FaultyRedis) -> None:
        """The same destination starts afresh (a new id, 201) and its new code approves."""
        old_id, _ = fault_api.started()
        faulty_redis.kill()
        faulty_redis.restart()
        new_id, code = fault_api.started()
        assert old_id != new_id
        assert "approved" == fault_api.check(new_id, code).get_json()["status"]
