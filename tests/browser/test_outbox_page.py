"""/dev/outbox in headless Chromium: newest first, refreshed by polling, messages as received."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Page, expect

from tests.support import EMAIL, PHONE, auth

pytestmark = pytest.mark.browser


def _start(page: Page, server_url: str, to: str, channel: str) -> str:
    """Start a verification through the real API, from the page's own HTTP client."""
    response = page.request.post(
        f"{server_url}/v1/verifications", data={"to": to, "channel": channel}, headers=auth()
    )
    assert 201 == response.status, response.text()
    return str(response.json()["id"])


def test_new_messages_appear_on_top_without_a_reload(
    page: Page, server_url: str, screenshot: Callable[[str], Path]
) -> None:
    """A message sent while the page is open is added first, focus and page state untouched."""
    first = _start(page, server_url, PHONE, "sms")
    page.goto(f"{server_url}/dev/outbox")
    page.evaluate("window.loadedOnce = true")
    expect(page.locator("[data-status]")).to_contain_text("Last checked")  # first poll done
    json_link = page.get_by_role("link", name="JSON")
    json_link.focus()
    second = _start(page, server_url, EMAIL, "email")
    cards = page.locator("#outbox article.message")
    expect(cards).to_have_count(2)
    assert [second, first] == [cards.nth(i).get_attribute("data-verification-id") for i in range(2)]
    expect(json_link).to_be_focused()
    assert page.evaluate("window.loadedOnce") is True
    expect(page.locator("[data-announce]")).to_have_text(
        "1 new message in the outbox, newest: EMAIL to alice@example.com."
    )
    screenshot("outbox")


def test_email_html_renders_in_a_sandboxed_frame(page: Page, server_url: str) -> None:
    """The email's HTML body is shown rendered, inside an iframe with every sandbox flag on."""
    verification_id = _start(page, server_url, EMAIL, "email")
    page.goto(f"{server_url}/dev/outbox")
    card = page.locator(f'article[data-verification-id="{verification_id}"]')
    expect(card.locator("iframe")).to_have_attribute("sandbox", "")
    body = page.frame_locator(f'article[data-verification-id="{verification_id}"] iframe')
    expect(body.locator("p").nth(1)).to_have_text(re.compile(r"^\d{6}$"))
    expect(card.get_by_role("heading")).to_have_text("Email to alice@example.com")


def test_sms_is_shown_as_text(page: Page, server_url: str) -> None:
    """An SMS card shows the text the phone would display."""
    verification_id = _start(page, server_url, PHONE, "sms")
    page.goto(f"{server_url}/dev/outbox")
    card = page.locator(f'article[data-verification-id="{verification_id}"]')
    expect(card.locator(".sms-text")).to_have_text(
        re.compile(r"^\d{6} is your otp-service verification code\. It expires in 10 min\.")
    )
