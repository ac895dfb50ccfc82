"""
Issue 23 on ``/v2``, through the official ``twilio`` client over real HTTP (answers validated
against Twilio's OpenAPI document): late checks keep 20404 with the reason in the message.
"""

from __future__ import annotations

from typing import Any

from tests.support import PHONE, CapturingSender, FakeClock
from tests.twilio_verify.test_twilio_verify import (  # noqa: F401 (fixtures)
    _base_url,
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
