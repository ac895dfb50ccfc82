"""
PSD2 dynamic linking (issue 23, part 4) over real HTTP: a code authorises one amount and payee,
its message shows them, and a check must present them again.
"""

from __future__ import annotations

from typing import Any

from tests.live_http import LiveApi
from tests.support import EMAIL, PHONE, FakeClock

PAYMENT = {"amount": "€42.50", "payee": "Acme Ltd"}


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def _checked(live: LiveApi, verification_id: str, code: str, **transaction: Any) -> Any:
    response = live.check(verification_id, code, **transaction)
    assert 200 == response.status_code, response.json()
    return response.json()


class TestStart:
    def test_the_resource_and_the_sms_show_the_transaction(self, live: LiveApi) -> None:
        """Amount and payee are in the resource and in the message."""
        response = live.start(**PAYMENT)
        assert (201, "€42.50", "Acme Ltd") == (
            response.status_code,
            response.json()["amount"],
            response.json()["payee"],
        )
        assert "Payment of €42.50 to Acme Ltd." in live.sender.sent[-1].text

    def test_the_email_shows_it_escaped(self, live: LiveApi) -> None:
        """In the HTML part the payee is text, never markup."""
        live.start(EMAIL, "email", amount="10,00 zł", payee="<b>Shop</b>", locale="pl")
        message = live.sender.sent[-1]
        assert "Płatność 10,00 zł na rzecz <b>Shop</b>." in message.text
        assert message.html is not None
        assert "&lt;b&gt;Shop&lt;/b&gt;" in message.html

    def test_a_plain_start_has_none(self, live: LiveApi) -> None:
        """Without a transaction, amount and payee are null and the message is as before."""
        body = live.start().json()
        assert (None, None) == (body["amount"], body["payee"])
        assert "Payment" not in live.sender.sent[-1].text

    def test_amount_and_payee_go_together(self, live: LiveApi) -> None:
        """One without the other is a 422, and nothing is sent."""
        assert 422 == live.start(amount="€1").status_code
        assert 422 == live.start(payee="Acme", amount="").status_code
        assert [] == live.sender.sent

    def test_another_transaction_starts_a_new_verification(
        self, live: LiveApi, clock: FakeClock
    ) -> None:
        """A pending code authorises its own transaction only: another one gets a new code."""
        first = live.start(**PAYMENT).json()["id"]
        clock.advance(31)
        second = live.start(amount="€99.00", payee="Acme Ltd")
        assert 201 == second.status_code
        assert first != second.json()["id"]

    def test_a_resend_keeps_the_transaction(self, live: LiveApi, clock: FakeClock) -> None:
        """The same transaction again resends: the new code is bound to it too."""
        verification_id, _ = live.started(**PAYMENT)
        clock.advance(31)
        assert 200 == live.start(**PAYMENT).status_code
        code = live.sender.last_code(PHONE)
        assert _checked(live, verification_id, code, **PAYMENT)["valid"]


class TestCheck:
    def test_the_same_transaction_approves(self, live: LiveApi) -> None:
        """The code with its amount and payee approves."""
        verification_id, code = live.started(**PAYMENT)
        assert "approved" == _checked(live, verification_id, code, **PAYMENT)["status"]

    def test_without_or_with_another_transaction_fails_and_uses_an_attempt(
        self, live: LiveApi
    ) -> None:
        """The right code with no, or another, amount or payee is a wrong code."""
        verification_id, code = live.started(**PAYMENT)
        tries = [{}, {"amount": "€42.51", "payee": "Acme Ltd"}, {**PAYMENT, "payee": "Evil Ltd"}]
        remaining = [_checked(live, verification_id, code, **t) for t in tries]
        assert [(False, 4), (False, 3), (False, 2)] == [
            (r["valid"], r["attempts_remaining"]) for r in remaining
        ]
        assert _checked(live, verification_id, code, **PAYMENT)["valid"]

    def test_a_plain_code_cannot_authorise_a_transaction(self, live: LiveApi) -> None:
        """A code sent without a transaction does not approve one."""
        verification_id, code = live.started()
        assert not _checked(live, verification_id, code, **PAYMENT)["valid"]
        assert _checked(live, verification_id, code)["valid"]

    def test_by_destination(self, live: LiveApi) -> None:
        """A check by destination binds the transaction too."""
        live.started(**PAYMENT)
        code = live.sender.last_code(PHONE)
        body = {"to": PHONE, "code": code}
        assert not live.post("/v1/verification-checks", body).json()["valid"]
        assert live.post("/v1/verification-checks", {**body, **PAYMENT}).json()["valid"]

    def test_a_wrong_code_with_the_transaction_still_fails(self, live: LiveApi) -> None:
        """The transaction is no code: a wrong code with it fails."""
        verification_id, code = live.started(**PAYMENT)
        assert not _checked(live, verification_id, _wrong(code), **PAYMENT)["valid"]
