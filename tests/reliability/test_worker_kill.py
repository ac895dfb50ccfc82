"""
A gunicorn worker is SIGKILLed in the middle of checks: the checks it was running are lost, but
no verification counts more than ``max_attempts`` checks or is approved twice, and the master
replaces the worker while the other one keeps serving (invariants 1 and 2 of docs/architecture.md).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from otp_service.verify.records import named_fields
from tests.gunicorn_server import running_gunicorn
from tests.reliability.support import (
    BEARER,
    FaultyRedis,
    Outcome,
    faulty_environ,
    gunicorn_master,
    new_phone,
    timed_call,
    twilio_environ,
    wait_for_workers,
    wrong_code,
)
from tests.servers.twilio_double import TwilioDouble
from tests.support import code_in

pytestmark = pytest.mark.gunicorn
MAX_ATTEMPTS = 5
#: A SIGKILLed process takes a moment to die, and connections it had accepted die with it.
DYING_SECONDS = 0.25
PREFIX = "wk"


@dataclass
class KillRun:
    """What the clients saw around the kill, and what Redis and gunicorn hold after it."""

    outcomes: list[Outcome]
    killed_at: float
    codes: dict[str, str]
    attempts: dict[str, int]
    statuses: dict[str, str]
    workers_before: list[int]
    workers_after: list[int]
    killed_pid: int
    flow_after: tuple[int, int, bool]


def _start(session: requests.Session, base: str, twilio: TwilioDouble) -> tuple[str, str]:
    to = new_phone()
    response = session.post(
        f"{base}/v1/verifications", json={"to": to, "channel": "sms"}, headers=BEARER, timeout=10
    )
    assert 201 == response.status_code, response.text
    (message,) = twilio.messages_to(to)
    return response.json()["id"], code_in(message.field("Body") or "")


def _checker(
    base: str, codes: dict[str, str], outcomes: list[Outcome], stop: threading.Event, seed: int
) -> None:
    rng = random.Random(seed)
    ids = sorted(codes)
    with requests.Session() as session:
        while not stop.is_set():
            verification_id = rng.choice(ids)
            is_right = rng.random() < 0.25
            code = codes[verification_id] if is_right else wrong_code(codes[verification_id])
            outcomes.append(
                timed_call(
                    session,
                    "POST",
                    f"{base}/v1/verifications/{verification_id}/check",
                    "check-right" if is_right else "check-wrong",
                    verification_id=verification_id,
                    code=code,
                    json={"code": code},
                    headers=BEARER,
                )
            )


def _full_flow(base: str, twilio: TwilioDouble) -> tuple[int, int, bool]:
    """Start and check once more: (start status, check status, valid)."""
    with requests.Session() as session:
        verification_id, code = _start(session, base, twilio)
        checked = session.post(
            f"{base}/v1/verifications/{verification_id}/check",
            json={"code": code},
            headers=BEARER,
            timeout=10,
        )
    return 201, checked.status_code, bool(checked.json().get("valid"))


@pytest.fixture(name="kill_run", scope="module")
def _kill_run() -> Iterator[KillRun]:
    """Eight clients check 40 verifications; after 1 s one of the two workers is SIGKILLed."""
    with (
        FaultyRedis() as redis_server,
        TwilioDouble() as twilio,
        running_gunicorn(
            faulty_environ(redis_server.url, PREFIX, **twilio_environ(twilio.url)),
            workers=2,
            threads=4,
        ) as base,
    ):
        master = gunicorn_master(base)
        workers_before = wait_for_workers(master, 2)
        with requests.Session() as session:
            codes = dict(_start(session, base, twilio) for _ in range(40))
        outcomes: list[Outcome] = []
        stop = threading.Event()
        threads = [
            threading.Thread(target=_checker, args=(base, codes, outcomes, stop, seed))
            for seed in range(8)
        ]
        for thread in threads:
            thread.start()
        try:
            time.sleep(1.0)
            killed_pid = random.choice(workers_before)
            os.kill(killed_pid, signal.SIGKILL)
            killed_at = time.monotonic()
            time.sleep(1.5)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
        workers_after = wait_for_workers(master, 2)
        flow_after = _full_flow(base, twilio)
        with redis_server.client() as admin:
            hashes = {vid: named_fields(admin.hgetall(f"{PREFIX}:vf:{{{vid}}}")) for vid in codes}
        yield KillRun(
            outcomes,
            killed_at,
            codes,
            {vid: int(fields["attempts"]) for vid, fields in hashes.items()},
            {vid: fields["status"] for vid, fields in hashes.items()},
            workers_before,
            workers_after,
            killed_pid,
            flow_after,
        )


class TestWorkerKilledDuringChecks:
    """SIGKILL to one gunicorn worker while eight clients check codes."""

    def test_no_verification_counts_more_than_max_attempts(self, kill_run: KillRun) -> None:
        """Redis holds at most max_attempts checks for every verification."""
        assert {} == {vid: n for vid, n in kill_run.attempts.items() if n > MAX_ATTEMPTS}

    def test_every_answered_check_was_counted(self, kill_run: KillRun) -> None:
        """The clients saw no more evaluated checks than Redis counted (lost ones may count)."""
        evaluated = Counter(o.verification_id for o in kill_run.outcomes if o.status == 200)
        assert {} == {vid: n for vid, n in evaluated.items() if n > kill_run.attempts[vid or ""]}

    def test_no_verification_is_approved_twice(self, kill_run: KillRun) -> None:
        """At most one check of each verification was answered valid."""
        approvals = Counter(o.verification_id for o in kill_run.outcomes if o.is_approval)
        assert approvals, "no check was approved: the load did not exercise approvals"
        assert {} == {vid: n for vid, n in approvals.items() if n > 1}

    def test_approvals_match_the_stored_status(self, kill_run: KillRun) -> None:
        """Every approval a client saw is stored as approved, with the code that was sent."""
        for outcome in kill_run.outcomes:
            if outcome.is_approval:
                vid = outcome.verification_id or ""
                assert ("approved", kill_run.codes[vid]) == (kill_run.statuses[vid], outcome.code)

    def test_only_calls_in_flight_at_the_kill_are_lost(self, kill_run: KillRun) -> None:
        """Calls that got no answer were sent while the worker died; no answer is a 5xx."""
        lost = [o for o in kill_run.outcomes if o.status is None]
        assert [] == [o for o in lost if o.started > kill_run.killed_at + DYING_SECONDS]
        assert [] == [o for o in kill_run.outcomes if o.status is not None and o.status >= 500]

    def test_service_continues_on_the_other_worker(self, kill_run: KillRun) -> None:
        """Checks sent after the kill were answered."""
        after = [o for o in kill_run.outcomes if o.started > kill_run.killed_at + DYING_SECONDS]
        assert len(after) >= 20
        assert all(o.status is not None for o in after)

    def test_master_replaces_the_killed_worker(self, kill_run: KillRun) -> None:
        """The master has two workers again, a new one instead of the killed one."""
        new_workers = set(kill_run.workers_after) - set(kill_run.workers_before)
        assert kill_run.killed_pid not in kill_run.workers_after
        assert 1 == len(new_workers)

    def test_full_flow_works_after_the_kill(self, kill_run: KillRun) -> None:
        """A new verification starts and its code approves it."""
        assert (201, 200, True) == kill_run.flow_after
