"""
Issue 23 on ``/v2``, through the official ``twilio`` client over real HTTP (answers validated
against Twilio's OpenAPI document): late checks keep 20404 with the reason in the message; PSD2's
``Amount`` and ``Payee`` bind a code to a transaction.
"""

from __future__ import annotations

from typing import Any

from tests.support import PHONE, CapturingSender, FakeClock
from tests.twilio_verify.test_twilio_verify import (  # noqa: F401 (fixtures)
    _base_url,
    _channels,
    _http_client,
    _overrides,
    _refused,
    _service,
)


class TestLateChecks:
    def test_approved_is_20404_with_the_reason(self, service: Any, sender: CapturingSender) -> None:
        """A second check of an approved verification: 404 20404, the message says approved."""
        sid = service.verifications.create(to=PHONE, channel="sms").sid
        code = sender.last_code(PHONE)
        service.verification_checks.create(verification_sid=sid, code=code)
        error = _refused(service.verification_checks.create, verification_sid=sid, code=code)
        assert (404, 20404) == (error.status, error.code)
        assert error.msg.endswith("(the verification is approved)")

    def test_expired_is_20404_with_the_reason(
        self, service: Any, sender: CapturingSender, clock: FakeClock
    ) -> None:
        """After expiry: 20404, the message says expired."""
        sid = service.verifications.create(to=PHONE, channel="sms").sid
        clock.advance(601)
        error = _refused(
            service.verification_checks.create, verification_sid=sid, code=sender.last_code(PHONE)
        )
        assert (404, 20404) == (error.status, error.code)
        assert error.msg.endswith("(the verification is expired)")

    def test_canceled_is_20404_with_the_reason(self, service: Any) -> None:
        """After a cancel: 20404, the message says canceled."""
        sid = service.verifications.create(to=PHONE, channel="sms").sid
        service.verifications(sid).update(status="canceled")
        error = _refused(service.verification_checks.create, verification_sid=sid, code="123456")
        assert error.msg.endswith("(the verification is canceled)")

    def test_unknown_sid_has_no_reason(self, service: Any) -> None:
        """A SID that names nothing: Twilio's plain message."""
        error = _refused(
            service.verification_checks.create, verification_sid="VE" + "0" * 32, code="123456"
        )
        assert "(the verification is" not in error.msg


class TestPsd2:
    """Twilio's ``Amount`` and ``Payee`` on create and check (once answered 60204)."""

    def test_create_shows_the_transaction(self, service: Any, sender: CapturingSender) -> None:
        """The resource carries amount and payee; the message names them."""
        created = service.verifications.create(
            to=PHONE, channel="sms", amount="€42.50", payee="Acme Ltd"
        )
        assert ("€42.50", "Acme Ltd") == (created.amount, created.payee)
        assert "Payment of €42.50 to Acme Ltd." in sender.sent[-1].text

    def test_check_with_the_same_transaction_approves(
        self, service: Any, sender: CapturingSender
    ) -> None:
        """The right code with the same Amount and Payee: approved, and the check shows them."""
        service.verifications.create(to=PHONE, channel="sms", amount="€42.50", payee="Acme Ltd")
        check = service.verification_checks.create(
            to=PHONE, code=sender.last_code(PHONE), amount="€42.50", payee="Acme Ltd"
        )
        assert ("approved", True, "€42.50", "Acme Ltd") == (
            check.status,
            check.valid,
            check.amount,
            check.payee,
        )

    def test_check_without_or_with_another_transaction_is_pending(
        self, service: Any, sender: CapturingSender
    ) -> None:
        """The right code without, or with another, Amount: pending, not valid, an attempt used."""
        sid = service.verifications.create(
            to=PHONE, channel="sms", amount="€42.50", payee="Acme Ltd"
        ).sid
        code = sender.last_code(PHONE)
        bare = service.verification_checks.create(verification_sid=sid, code=code)
        other = service.verification_checks.create(
            verification_sid=sid, code=code, amount="€4250", payee="Acme Ltd"
        )
        assert [("pending", False), ("pending", False)] == [
            (bare.status, bare.valid),
            (other.status, other.valid),
        ]

    def test_amount_without_payee_is_an_invalid_parameter(
        self, service: Any, sender: CapturingSender
    ) -> None:
        """One without the other: 400 60200, nothing sent."""
        error = _refused(service.verifications.create, to=PHONE, channel="sms", amount="€1")
        assert (400, 60200, []) == (error.status, error.code, sender.sent)
