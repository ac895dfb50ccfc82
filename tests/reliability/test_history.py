"""
The failover history checker on small hand-made histories: each rule flags exactly the answers no
correct service could give, and nothing that some interleaving of overlapping calls explains.
"""

from __future__ import annotations

from typing import Any

from tests.reliability.history import check_history
from tests.reliability.support import Outcome

VID = "vf_" + "a" * 32
OTHER = "vf_" + "b" * 32
TTL = 600.0


def call(
    kind: str,
    started: float,
    finished: float,
    answer: int | None,
    code: str | None = None,
    verification_id: str = VID,
    **body: Any,
) -> Outcome:
    """One recorded call of verification ``verification_id``, answered ``answer`` and ``body``."""
    if kind in ("start", "resend") and answer in (200, 201):
        body.setdefault("id", verification_id)
    return Outcome(kind, verification_id, code, started, finished, answer, body)


def started(code: str = "111111", at: float = 0.0, verification_id: str = VID) -> Outcome:
    """A start answered 201 that delivered ``code``."""
    return call("start", at, at + 0.1, 201, code, verification_id)


def checked(code: str, at: float, status: int | None = 200, valid: bool | None = None) -> Outcome:
    """A check of ``code`` sent at ``at``, answered a moment later."""
    body = {} if valid is None else {"valid": valid}
    return Outcome("check", VID, code, at, at + 0.1, status, body)


def counts(*history: Outcome) -> dict[str, int]:
    """The non-zero violation counts of ``history`` (max 5 attempts)."""
    found = check_history(history, max_attempts=5, ttl_seconds=TTL).counts()
    return {name: count for name, count in found.items() if count}


class TestCleanHistories:
    def test_a_normal_verification_has_no_violation(self) -> None:
        """Start, two wrong guesses, one approval among ten concurrent checks, replays 404."""
        right = [checked("111111", 2.0, valid=True)]
        right += [checked("111111", 2.0, 404) for _ in range(9)]
        history = [
            started(),
            checked("222222", 1.0, valid=False),
            checked("222222", 1.5, valid=False),
            *right,
            checked("111111", 3.0, 404),
            call("get", 3.5, 3.6, 200, status="approved"),
        ]
        assert {} == counts(*history)

    def test_503s_and_429s_do_not_count_as_evaluated(self) -> None:
        """Five evaluated guesses, then 429s and 503s: within the budget."""
        history = [started(), *(checked("222222", t, valid=False) for t in range(1, 6))]
        history += [checked("222222", 6.0, 429), checked("222222", 7.0, 503)]
        assert {} == counts(*history)


class TestApprovals:
    def test_two_approvals_of_one_verification(self) -> None:
        """A second valid:true for the same verification is one double approval."""
        history = [
            started(),
            checked("111111", 1.0, valid=True),
            checked("111111", 5.0, valid=True),
        ]
        assert {"double_approvals": 1} == counts(*history)

    def test_approvals_of_two_verifications(self) -> None:
        """One approval each: no violation."""
        other = call("check", 1.0, 1.1, 200, "333333", OTHER, valid=True)
        history = [started(), started("333333", verification_id=OTHER), other]
        assert {} == counts(*history, checked("111111", 1.0, valid=True))

    def test_six_evaluated_checks_exceed_five_attempts(self) -> None:
        """The sixth evaluated answer is over budget, whether wrong or right."""
        history = [started(), *(checked("222222", t, valid=False) for t in range(1, 6))]
        assert {"over_budget": 1} == counts(*history, checked("111111", 6.0, valid=True))


class TestSupersededCodes:
    def test_approval_of_a_code_after_its_resend_was_answered(self) -> None:
        """The old code approved in a check sent after the resend's 200: a violation."""
        resend = call("resend", 1.0, 1.2, 200, "999999")
        assert {"superseded_approvals": 1} == counts(
            started(), resend, checked("111111", 1.3, valid=True)
        )

    def test_check_overlapping_the_resend_may_approve(self) -> None:
        """Sent before the resend was answered: the old code may still have been current."""
        resend = call("resend", 1.0, 1.2, 200, "999999")
        assert {} == counts(started(), resend, checked("111111", 1.1, valid=True))

    def test_resend_overlapping_the_delivery_does_not_supersede(self) -> None:
        """A resend sent before the code's own start was answered: their order is unknown."""
        resend = call("resend", 0.05, 1.2, 200, "999999")
        assert {} == counts(started(), resend, checked("111111", 2.0, valid=True))

    def test_a_failed_resend_does_not_supersede(self) -> None:
        """A resend answered 503 (its code delivered or not) proves nothing."""
        resend = call("resend", 1.0, 1.2, 503, "999999")
        assert {} == counts(started(), resend, checked("111111", 2.0, valid=True))

    def test_the_new_code_may_be_approved(self) -> None:
        """The code the resend delivered is the current one."""
        resend = call("resend", 1.0, 1.2, 200, "999999")
        assert {} == counts(started(), resend, checked("999999", 2.0, valid=True))


class TestLostVerifications:
    def test_get_404_after_start(self) -> None:
        """A verification answered 201 and then unknown before its expiry."""
        assert {"lost_after_start": 1} == counts(started(), call("get", 1.0, 1.1, 404))

    def test_get_404_after_expiry(self) -> None:
        """After the code's lifetime, 404 is the right answer."""
        assert {} == counts(started(), call("get", TTL + 1, TTL + 1.1, 404))

    def test_check_404_explained_by_an_approval_or_an_ambiguous_check(self) -> None:
        """A right code that approved, or may have (503, no answer), ends the verification."""
        assert {} == counts(started(), checked("111111", 1.0, 503), checked("111111", 1.05, 404))
        unanswered = checked("111111", 1.0, None)
        assert {"unanswered": 1} == counts(started(), unanswered, checked("111111", 2.0, 404))
        assert {} == counts(started(), checked("111111", 1.0, valid=True), checked("1", 2.0, 404))

    def test_check_404_unexplained(self) -> None:
        """Only a wrong code failed ambiguously before: nothing could have ended it."""
        history = [started(), checked("222222", 1.0, 503), checked("111111", 2.0, 404)]
        assert {"lost_after_start": 1} == counts(*history)

    def test_check_404_before_the_start_was_answered(self) -> None:
        """A check racing the start it depends on is not counted."""
        assert {} == counts(started(at=1.0), checked("111111", 0.5, 404))


class TestRevertedApprovals:
    def test_pending_again_after_an_approval(self) -> None:
        """A GET sent after valid:true was answered that shows pending: the approval vanished."""
        history = [started(), checked("111111", 1.0, valid=True)]
        assert {"approval_reverted": 1} == counts(
            *history, call("get", 2.0, 2.1, 200, status="pending")
        )

    def test_pending_in_a_get_overlapping_the_approval(self) -> None:
        """Sent before the approval was answered: it may have read the state before it."""
        history = [started(), checked("111111", 1.0, valid=True)]
        assert {} == counts(*history, call("get", 1.05, 1.2, 200, status="pending"))


class TestServerErrors:
    def test_5xx_other_than_503(self) -> None:
        """500 and 502 are violations; 503 is failing closed; no answer at all is counted."""
        history = [
            started(),
            checked("2", 1.0, 500),
            checked("2", 2.0, 502),
            checked("2", 3.0, 503),
        ]
        assert {"server_errors": 2, "unanswered": 1} == counts(*history, checked("2", 4.0, None))
