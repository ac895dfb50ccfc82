"""
A checker over the whole recorded history of a verification workload: every call, when it was
sent and answered, and what came back. Each rule names calls whose answers no correct service
could have given, whatever the interleaving of the calls that overlapped in time.

A history is a list of ``Outcome`` (``tests.reliability.support``) with these kinds:

- ``start`` and ``resend``: ``POST /v1/verifications``; ``code`` is the code the delivery carried
  (None when nothing was delivered), ``body["id"]`` the verification answered.
- ``check``: ``POST /v1/verifications/{id}/check`` with ``code``.
- ``get``: ``GET /v1/verifications/{id}``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields

from tests.reliability.support import Outcome


@dataclass
class Violations:
    """The calls that break each guarantee (one entry per offending call or verification)."""

    double_approvals: list[Outcome] = field(default_factory=list)
    over_budget: list[Outcome] = field(default_factory=list)
    superseded_approvals: list[Outcome] = field(default_factory=list)
    lost_after_start: list[Outcome] = field(default_factory=list)
    approval_reverted: list[Outcome] = field(default_factory=list)
    server_errors: list[Outcome] = field(default_factory=list)
    unanswered: list[Outcome] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many of each."""
        return {f.name: len(getattr(self, f.name)) for f in fields(self)}

    def total(self) -> int:
        """How many in all."""
        return sum(self.counts().values())


def is_approval(outcome: Outcome) -> bool:
    """A check answered ``200`` with ``valid: true``."""
    return outcome.kind == "check" and outcome.status == 200 and outcome.body.get("valid") is True


def is_evaluated(outcome: Outcome) -> bool:
    """A check whose code was compared: ``200`` with ``valid`` true or false."""
    return outcome.kind == "check" and outcome.status == 200 and "valid" in outcome.body


def is_ambiguous(outcome: Outcome) -> bool:
    """No answer, or a 5xx: the call may or may not have taken effect."""
    return outcome.status is None or outcome.status >= 500


def answered_id(outcome: Outcome) -> str | None:
    """The verification a start or resend acted on: the one answered, else the one named."""
    if outcome.status in (200, 201) and isinstance(outcome.body.get("id"), str):
        return str(outcome.body["id"])
    return outcome.verification_id


def by_verification(history: Iterable[Outcome]) -> dict[str, list[Outcome]]:
    """The calls of each verification, in the order they were sent."""
    calls: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in sorted(history, key=lambda o: o.started):
        verification_id = answered_id(outcome) if outcome.kind in ("start", "resend") else None
        verification_id = verification_id or outcome.verification_id
        if verification_id is not None:
            calls[verification_id].append(outcome)
    return calls


def double_approvals(calls: list[Outcome]) -> list[Outcome]:
    """Every approval of a verification after its first: at most one check may be approved."""
    return [o for o in calls if is_approval(o)][1:]


def over_budget(calls: list[Outcome], max_attempts: int) -> list[Outcome]:
    """The evaluated checks beyond the first ``max_attempts`` (by the time they were answered)."""
    evaluated = sorted((o for o in calls if is_evaluated(o)), key=lambda o: o.finished)
    return evaluated[max_attempts:]


def issued(calls: list[Outcome]) -> list[Outcome]:
    """The starts and resends that delivered a code."""
    return [o for o in calls if o.kind in ("start", "resend") and o.code is not None]


def superseded_approvals(calls: list[Outcome]) -> list[Outcome]:
    """
    Approvals of a code sent after a resend replaced it: a resend answered ``200`` with another
    code, sent after this code's delivery was answered, and answered before this check was sent.
    """
    issues = issued(calls)
    resends = [o for o in issues if o.kind == "resend" and o.status == 200]
    wrong = []
    for check in (o for o in calls if is_approval(o)):
        for issue in (i for i in issues if i.code == check.code):
            if any(
                r.code != check.code and r.started >= issue.finished and r.finished <= check.started
                for r in resends
            ):
                wrong.append(check)
                break
    return wrong


def lost_after_start(calls: list[Outcome], ttl_seconds: float) -> list[Outcome]:
    """
    404s, sent after a ``201`` was answered and before the code could expire, that no call
    explains: a GET is never explained (an approved verification is still readable); a check is
    explained by an earlier-sent check of a delivered code that approved or may have.
    """
    created = [o for o in calls if o.kind in ("start", "resend") and o.status == 201]
    if not created:
        return []
    born = min(o.finished for o in created)
    codes = {o.code for o in issued(calls)}
    lost = []
    for call in calls:
        if call.status != 404 or not born <= call.started < born + ttl_seconds:
            continue
        if call.kind == "get" or (call.kind == "check" and not _may_have_ended(calls, call, codes)):
            lost.append(call)
    return lost


def _may_have_ended(calls: list[Outcome], call: Outcome, codes: set[str | None]) -> bool:
    return any(
        o.kind == "check"
        and o is not call
        and o.code in codes
        and o.started < call.finished
        and (is_approval(o) or is_ambiguous(o))
        for o in calls
    )


def approval_reverted(calls: list[Outcome]) -> list[Outcome]:
    """GETs sent after an approval was answered that show the verification ``pending`` again."""
    approvals = [o for o in calls if is_approval(o)]
    if not approvals:
        return []
    approved_at = min(o.finished for o in approvals)
    return [
        o
        for o in calls
        if o.kind == "get"
        and o.status == 200
        and o.started > approved_at
        and o.body.get("status") == "pending"
    ]


def check_history(
    history: Iterable[Outcome], *, max_attempts: int, ttl_seconds: float
) -> Violations:
    """Every violation in ``history``."""
    recorded = list(history)
    found = Violations(
        server_errors=[o for o in recorded if o.status is not None and o.status >= 500],
        unanswered=[o for o in recorded if o.status is None],
    )
    found.server_errors = [o for o in found.server_errors if o.status != 503]
    for calls in by_verification(recorded).values():
        found.double_approvals += double_approvals(calls)
        found.over_budget += over_budget(calls, max_attempts)
        found.superseded_approvals += superseded_approvals(calls)
        found.lost_after_start += lost_after_start(calls, ttl_seconds)
        found.approval_reverted += approval_reverted(calls)
    return found
