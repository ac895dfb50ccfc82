"""Basic accessibility of /try and /dev/outbox, measured in the browser on the rendered pages."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Page, expect

from tests.support import EMAIL, PHONE

pytestmark = pytest.mark.browser

# WCAG 2.x contrast of every visible text against the first opaque background behind it.
CONTRAST_FAILURES_JS = """
() => {
  const rgba = (css) => {
    const parts = css.match(/[\\d.]+/g).map(Number);
    return { r: parts[0], g: parts[1], b: parts[2], a: parts.length > 3 ? parts[3] : 1 };
  };
  const channel = (v) => {
    v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  };
  const luminance = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const background = (node) => {
    for (; node; node = node.parentElement) {
      const colour = rgba(getComputedStyle(node).backgroundColor);
      if (colour.a > 0) return colour;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  };
  const failures = [];
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || seen.has(node)) continue;
    seen.add(node);
    if (!node.checkVisibility() || node.closest("script, style, .visually-hidden")) continue;
    const style = getComputedStyle(node);
    const [a, b] = [luminance(rgba(style.color)), luminance(background(node))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (Number(style.fontWeight) >= 700 && size >= 18.66);
    if (ratio < (large ? 3 : 4.5)) {
      const text = node.textContent.trim().slice(0, 40);
      failures.push(node.tagName + " '" + text + "' " + ratio.toFixed(2));
    }
  }
  return failures;
}
"""

# Form controls with no accessible name from a <label> or aria attributes.
UNLABELLED_CONTROLS_JS = """
() => Array.from(document.querySelectorAll("input, select, textarea"))
  .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute("aria-label")
                 && !c.getAttribute("aria-labelledby"))
  .map((c) => c.outerHTML)
"""

FOCUS_RING_JS = """
() => {
  const style = getComputedStyle(document.activeElement);
  return [document.activeElement.id || document.activeElement.tagName,
          style.outlineStyle, parseFloat(style.outlineWidth)];
}
"""


def _try_page_with_every_state(page: Page, server_url: str) -> None:
    """/try with a verification, an email in the outbox, and an error shown."""
    page.goto(f"{server_url}/try")
    page.get_by_label("Email", exact=True).check()
    page.locator("#to").fill(EMAIL)
    page.get_by_role("button", name="Send code").click()
    expect(page.locator("#result")).to_contain_text("Code sent")
    page.locator("#code").fill("000000")
    page.get_by_role("button", name="Check code").click()
    expect(page.locator("#result")).to_contain_text("Wrong code")


def _tab_order(page: Page, presses: int) -> list[Any]:
    order = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        order.append(page.evaluate(FOCUS_RING_JS))
    return order


class TestTryPage:
    def test_text_contrast_meets_wcag_aa(self, page: Page, server_url: str) -> None:
        """Every visible text, results included, has at least 4.5:1 contrast (3:1 when large)."""
        _try_page_with_every_state(page, server_url)
        assert [] == page.evaluate(CONTRAST_FAILURES_JS)

    def test_success_result_contrast_meets_wcag_aa(self, page: Page, server_url: str) -> None:
        """The green 'sent' result box passes the contrast check too."""
        page.goto(f"{server_url}/try")
        page.locator("#to").fill(PHONE)
        page.get_by_role("button", name="Send code").click()
        expect(page.locator("#result")).to_contain_text("Code sent")
        assert [] == page.evaluate(CONTRAST_FAILURES_JS)

    def test_every_control_has_a_label(self, page: Page, server_url: str) -> None:
        """Each input is named by a label, once the whole page is showing."""
        _try_page_with_every_state(page, server_url)
        assert [] == page.evaluate(UNLABELLED_CONTROLS_JS)

    def test_focus_order_follows_the_flow_with_a_visible_ring(
        self, page: Page, server_url: str
    ) -> None:
        """Tab goes key → channel → destination → send → code → check → resend → the passkey
        user, register and sign-in → outbox, and each stop shows a focus outline at least 2px
        wide."""
        _try_page_with_every_state(page, server_url)
        page.locator("h1").click()  # moves the place Tab starts from to the top of the page
        stops = _tab_order(page, 11)
        expected = ["api-key", "channel-email", "to", "send", "code", "check", "resend"]
        expected += ["passkey-subject", "passkey-register", "passkey-sign-in", "A"]
        assert expected == [stop[0] for stop in stops]
        assert [] == [stop for stop in stops if stop[1] == "none" or stop[2] < 2]

    def test_results_are_announced(self, page: Page, server_url: str) -> None:
        """Results land in a polite live region, so screen readers read them out."""
        _try_page_with_every_state(page, server_url)
        region = page.locator("[aria-live]", has_text="Wrong code")
        expect(region).to_have_attribute("aria-live", "polite")
        expect(region).to_have_attribute("role", "status")


class TestOutboxPage:
    def test_text_contrast_meets_wcag_aa(self, page: Page, server_url: str) -> None:
        """The outbox, with an email in it, passes the contrast check."""
        _try_page_with_every_state(page, server_url)
        page.goto(f"{server_url}/dev/outbox")
        expect(page.locator("article.message")).to_have_count(1)
        assert [] == page.evaluate(CONTRAST_FAILURES_JS)

    def test_keyboard_reaches_each_message(self, page: Page, server_url: str) -> None:
        """Tab reaches both links, then the email's plain-text toggle, which Enter opens."""
        _try_page_with_every_state(page, server_url)
        page.goto(f"{server_url}/dev/outbox")
        # Tab only once the page has settled: its first poll of the outbox may still be running.
        expect(page.locator("article.message")).to_have_count(1)
        page.wait_for_load_state("networkidle")
        stops = _tab_order(page, 3)
        assert ["A", "A", "SUMMARY"] == [stop[0] for stop in stops]
        assert [] == [stop for stop in stops if stop[1] == "none" or stop[2] < 2]
        page.keyboard.press("Enter")
        expect(page.locator("details")).to_have_attribute("open", "")
