"""/try in headless Chromium: a person sends a code, reads it in the outbox beside it, types it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Page, expect

from tests.browser.conftest import MAX_ATTEMPTS
from tests.support import EMAIL, KEYS, PHONE

pytestmark = pytest.mark.browser


def _open(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/try")
    expect(page.locator("#api-key")).to_have_value(KEYS["acme"])


def _shown_verification_id(page: Page) -> str:
    field = page.locator('#verification [data-field="id"]')
    expect(field).to_have_text(re.compile(r"^vf_[0-9a-f]{32}$"))
    return field.inner_text()


def _sms_code(page: Page, verification_id: str) -> str:
    """The code, read off the SMS card in the outbox panel, as the person would read it."""
    card = page.locator(f'#outbox article[data-verification-id="{verification_id}"]').first
    text = card.locator(".sms-text").inner_text()
    match = re.search(r"\b(\d{6})\b", text)
    assert match is not None, text
    return match.group(1)


def _email_code(page: Page, verification_id: str) -> str:
    """The code, read inside the email's sandboxed iframe in the outbox panel."""
    card = f'#outbox article[data-verification-id="{verification_id}"]'
    body = page.frame_locator(f"{card} iframe").locator("body")
    match = re.search(r"\b(\d{6})\b", body.inner_text())
    assert match is not None
    return match.group(1)


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def _start_by_mouse(page: Page, to: str = PHONE) -> str:
    page.locator("#to").fill(to)
    page.get_by_role("button", name="Send code").click()
    expect(page.locator("#result")).to_contain_text("Code sent")
    return _shown_verification_id(page)


def _check_by_mouse(page: Page, code: str) -> None:
    page.locator("#code").fill(code)
    page.get_by_role("button", name="Check code").click()


class TestFullFlow:
    def test_keyboard_only_sms_login_is_approved(
        self, page: Page, server_url: str, screenshot: Callable[[str], Path]
    ) -> None:
        """Tab, type and Enter/Space alone take an SMS verification from start to approved."""
        _open(page, server_url)
        for expected in ("#api-key", "#channel-sms", "#to"):
            page.keyboard.press("Tab")
            expect(page.locator(expected)).to_be_focused()
        page.keyboard.type(PHONE)
        page.keyboard.press("Tab")
        expect(page.locator("#send")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#result")).to_contain_text("Code sent")
        expect(page.locator("#code")).to_be_focused()
        verification_id = _shown_verification_id(page)
        page.keyboard.type(_sms_code(page, verification_id))
        page.keyboard.press("Tab")
        expect(page.locator("#check")).to_be_focused()
        page.keyboard.press("Space")
        expect(page.locator("#result")).to_contain_text("Approved")
        expect(page.locator('#verification [data-field="status"]')).to_have_text("approved")
        screenshot("try-sms-approved")

    def test_shows_the_verification_with_expiry_and_attempts(
        self, page: Page, server_url: str
    ) -> None:
        """A started verification shows its status, masked destination, expiry and budgets."""
        _open(page, server_url)
        _start_by_mouse(page)
        facts = page.locator("#verification dl.facts")
        expect(facts.locator('[data-field="status"]')).to_have_text("pending")
        expect(facts.locator('[data-field="to"]')).to_have_text("+1415*****00 (SMS)")
        expect(facts.locator('[data-field="expires"]')).to_contain_text(
            re.compile(r"\d\d:\d\d:\d\d UTC, in (9 min|10 min 0 s)")
        )
        expect(facts.locator('[data-field="attempts"]')).to_have_text(str(MAX_ATTEMPTS))

    def test_email_login_by_mouse_is_approved(
        self, page: Page, server_url: str, screenshot: Callable[[str], Path]
    ) -> None:
        """Choosing Email, the code is read from the rendered email body and approves."""
        _open(page, server_url)
        page.get_by_label("Email", exact=True).check()
        expect(page.locator("#to-label")).to_have_text("Email address")
        verification_id = _start_by_mouse(page, EMAIL)
        expect(
            page.locator(f'#outbox article[data-verification-id="{verification_id}"]')
        ).to_contain_text("Subject: Your otp-service verification code")
        _check_by_mouse(page, _email_code(page, verification_id))
        expect(page.locator("#result")).to_contain_text("Approved")
        screenshot("try-email-approved")

    def test_arrow_keys_switch_the_channel(self, page: Page, server_url: str) -> None:
        """In the channel group, arrow keys pick Email and the destination field follows."""
        _open(page, server_url)
        page.locator("#channel-sms").focus()
        page.keyboard.press("ArrowRight")
        expect(page.locator("#channel-email")).to_be_checked()
        expect(page.locator("#to")).to_have_attribute("type", "email")
        expect(page.get_by_label("Email address")).to_be_visible()


class TestErrorsInWords:
    def test_wrong_codes_then_attempts_exhausted(
        self, page: Page, server_url: str, screenshot: Callable[[str], Path]
    ) -> None:
        """Each wrong code says how many attempts are left; once none are, even the right code
        is refused and the lock is explained."""
        _open(page, server_url)
        verification_id = _start_by_mouse(page)
        code = _sms_code(page, verification_id)
        result = page.locator("#result")
        for left in range(MAX_ATTEMPTS - 1, 0, -1):
            _check_by_mouse(page, _wrong(code))
            plural = "attempt" if left == 1 else "attempts"
            expect(result).to_contain_text(f"That code is not right. {left} {plural} left.")
            expect(page.locator('[data-field="attempts"]')).to_have_text(str(left))
        _check_by_mouse(page, _wrong(code))
        expect(result).to_contain_text("it was the last attempt: the verification is now locked")
        _check_by_mouse(page, code)
        expect(result).to_contain_text("Too many wrong codes: this verification is locked.")
        expect(result).to_contain_text("The API answered 429 Too many checks")
        expect(page.locator('[data-field="status"]')).to_have_text("max_attempts_reached")
        screenshot("try-attempts-exhausted")

    def test_resend_too_soon(self, page: Page, server_url: str) -> None:
        """Asking for a new code inside the cooldown explains how long to wait."""
        _open(page, server_url)
        _start_by_mouse(page)
        page.get_by_role("button", name="Send a new code").click()
        expect(page.locator("#result")).to_contain_text(
            re.compile(r"Too soon for a new code: wait ([1-9]|[12]\d|30) seconds")
        )

    def test_invalid_number(self, page: Page, server_url: str) -> None:
        """A number without its country code is refused with the field and the reason."""
        _open(page, server_url)
        page.locator("#to").fill("4155550100")
        page.get_by_role("button", name="Send code").click()
        result = page.locator("#result")
        expect(result).to_contain_text("Something you typed is not valid:")
        expect(result).to_contain_text("Phone number or email: must start with + and the country")
        expect(page.locator("#verification")).to_be_hidden()

    def test_unknown_api_key(self, page: Page, server_url: str) -> None:
        """A stale key (the dev server restarted) is explained, not just shown as 401."""
        _open(page, server_url)
        page.locator("#api-key").fill("otp_stale-key-from-an-earlier-run")
        page.locator("#to").fill(PHONE)
        page.get_by_role("button", name="Send code").click()
        expect(page.locator("#result")).to_contain_text("The API key was not accepted.")
