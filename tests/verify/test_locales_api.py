"""Locales (issue 23, part 3) over real HTTP: which language a verification's messages are in."""

from __future__ import annotations

import pytest

from tests.live_http import LiveApi

ITALIAN_MOBILE = "+393123456789"
JAPANESE_MOBILE = "+819012345678"


class TestResolution:
    def test_the_request_decides(self, live: LiveApi) -> None:
        """An asked-for locale is used and shown."""
        response = live.start(locale="ar")
        assert "ar" == response.json()["locale"]
        assert "رمز تحقق" in live.sender.sent[-1].text

    def test_region_is_narrowed_to_the_language(self, live: LiveApi) -> None:
        """``zh-TW`` is written in the shipped ``zh``."""
        assert "zh" == live.start(locale="zh-TW").json()["locale"]

    @pytest.mark.parametrize(
        ("to", "locale", "words"),
        [(ITALIAN_MOBILE, "it", "codice di verifica"), (JAPANESE_MOBILE, "ja", "確認コード")],
    )
    def test_else_the_numbers_country(
        self, live: LiveApi, to: str, locale: str, words: str
    ) -> None:
        """Without a locale, the number's country picks the language."""
        response = live.start(to)
        assert locale == response.json()["locale"], response.json()
        assert words in live.sender.sent[-1].text

    def test_unknown_locale_falls_back_and_says_so(self, live: LiveApi) -> None:
        """An unshipped locale falls back (here: the country's) and the resource says which."""
        response = live.start(ITALIAN_MOBILE, locale="ko")
        assert (201, "it") == (response.status_code, response.json()["locale"])

    def test_email_falls_back_to_the_client_default(self, live: LiveApi) -> None:
        """An email has no country: the client's default (English) writes it."""
        response = live.start("alice@example.com", "email", locale="ko")
        assert "en" == response.json()["locale"]
        assert "verification code" in (live.sender.sent[-1].subject or "")

    def test_get_shows_the_locale(self, live: LiveApi) -> None:
        """The stored locale is what GET shows."""
        verification_id = live.start(locale="hi").json()["id"]
        assert "hi" == live.get(f"/v1/verifications/{verification_id}").json()["locale"]
