"""/docs in headless Chromium: Swagger UI lists every operation and runs one with "Try it out"."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.support import KEYS, PHONE

pytestmark = pytest.mark.browser


def _open(page: Page, server_url: str) -> list[str]:
    """Open /docs; return the console errors (a CSP violation would show up there)."""
    errors: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", keep)
    page.goto(f"{server_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("otp-service")
    return errors


def _documented(server_url: str) -> set[tuple[str, str]]:
    document = requests.get(f"{server_url}/openapi.json", timeout=10).json()
    return {(method, path) for path, item in document["paths"].items() for method in item}


def _listed(page: Page) -> set[tuple[str, str]]:
    blocks = page.locator(".opblock .opblock-summary")
    expect(blocks.first).to_be_visible()
    listed = set()
    for block in blocks.all():
        method = block.locator(".opblock-summary-method").inner_text().lower()
        path = block.locator(".opblock-summary-path").get_attribute("data-path")
        listed.add((method, path or ""))
    return listed


def test_every_operation_of_the_document_is_listed(
    page: Page, server_url: str, screenshot: Callable[[str], Path]
) -> None:
    """Each (method, path) of /openapi.json has its block on the page; nothing was refused."""
    errors = _open(page, server_url)
    assert _documented(server_url) == _listed(page)
    screenshot("api-docs")
    assert [] == errors


def test_the_description_is_rendered_markdown(page: Page, server_url: str) -> None:
    """The API description's problem table is an HTML table, its code spans are <code>."""
    _open(page, server_url)
    description = page.locator(".swagger-ui .info .description")
    expect(description.locator("table tr").nth(1)).to_contain_text("/problems/")
    expect(description.locator("code").first).to_be_visible()
    assert "| status |" not in description.inner_text()


def test_try_it_out_starts_a_verification(page: Page, server_url: str) -> None:
    """Authorize with an API key, then Try it out on POST /v1/verifications: 201, pending."""
    _open(page, server_url)
    page.locator(".auth-wrapper .authorize").click()
    key_field = page.locator("#auth-bearer-value")
    bearer = page.locator(".dialog-ux .auth-container").filter(has=key_field)
    key_field.fill(KEYS["acme"])
    bearer.locator("button.authorize").click()
    expect(page.locator(".dialog-ux")).to_contain_text("Authorized")
    page.locator(".dialog-ux button.btn-done").first.click()
    path = page.locator('.opblock-summary-path[data-path="/v1/verifications"]')
    operation = page.locator(".opblock-post").filter(has=path)
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("textarea.body-param__text").fill(json.dumps({"to": PHONE, "channel": "sms"}))
    operation.get_by_role("button", name="Execute").click()
    live = operation.locator(".live-responses-table .response")
    expect(live.locator(".response-col_status")).to_have_text("201")
    body = json.loads(live.locator(".microlight").first.inner_text())
    assert ("pending", "sms") == (body["status"], body["channel"])
