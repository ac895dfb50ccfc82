"""Emails in headless Chromium: Arabic renders right to left, its code left to right (issue 23)."""

from __future__ import annotations

import pytest

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import Page

from otp_service.core.models import Channel, Policy
from otp_service.verify.messages import render_message

pytestmark = pytest.mark.browser


def _email_html(locale: str) -> str:
    message = render_message(
        channel=Channel.EMAIL,
        to="alice@example.com",
        code="482913",
        verification_id="vf_" + "0" * 32,
        policy=Policy(brand_name="Acme"),
        locale=locale,
    )
    assert message.html is not None
    return message.html


def _layout(page: Page, html: str) -> dict[str, object]:
    page.set_content(html)
    result: dict[str, object] = page.evaluate(
        """() => {
          const [intro, code] = document.querySelectorAll('p');
          const box = (el) => {
            const range = document.createRange();
            range.selectNodeContents(el);
            return range.getBoundingClientRect();
          };
          return {
            direction: getComputedStyle(intro).direction,
            codeDirection: getComputedStyle(code).direction,
            introRight: box(intro).right, introLeft: box(intro).left,
            bodyRight: document.body.getBoundingClientRect().right,
            code: code.innerText,
          };
        }"""
    )
    return result


def test_arabic_renders_right_to_left(page: Page) -> None:
    """The text hugs the right edge; the code still reads 482913."""
    layout = _layout(page, _email_html("ar"))
    assert ("rtl", "ltr", "482913") == (
        layout["direction"],
        layout["codeDirection"],
        layout["code"],
    )
    assert abs(float(str(layout["introRight"])) - float(str(layout["bodyRight"]))) < 2


def test_english_renders_left_to_right(page: Page) -> None:
    """The control: English is left to right and its text starts at the left."""
    layout = _layout(page, _email_html("en"))
    assert "ltr" == layout["direction"]
    assert abs(float(str(layout["introRight"])) - float(str(layout["bodyRight"]))) > 100
