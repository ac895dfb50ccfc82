"""Per-channel send limits in the settings: OTP_LIMIT_CHANNEL_SENDS and a policy's own."""

from __future__ import annotations

import json

import pytest

from otp_service.config.settings import ConfigError, Settings
from otp_service.core.models import Channel
from tests.config.test_check_config import _production
from tests.support import api_keys_json


class TestChannelSends:
    """Per-channel send limits: OTP_LIMIT_CHANNEL_SENDS, and ``channel_sends`` of a policy."""

    def test_the_variable_sets_every_client_s_default(self) -> None:
        settings = Settings.from_env(
            _production(OTP_LIMIT_CHANNEL_SENDS="voice=100/hour;1000/day, whatsapp=500/hour")
        )
        expected = ((Channel.VOICE, "100/hour;1000/day"), (Channel.WHATSAPP, "500/hour"))
        assert expected == settings.api_keys[0].policy.channel_sends

    @pytest.mark.parametrize("value", ["fax=1/hour", "voice=lots", "voice", "=1/hour"])
    def test_a_bad_entry_is_refused(self, value: str) -> None:
        with pytest.raises(ConfigError) as raised:
            Settings.from_env(_production(OTP_LIMIT_CHANNEL_SENDS=value))
        assert any("OTP_LIMIT_CHANNEL_SENDS must be" in p for p in raised.value.problems)

    def test_a_policy_overrides_it(self) -> None:
        keys = api_keys_json()
        keys[0]["policy"] = {"channel_sends": {"sms": "10/minute"}}
        environ = _production(
            OTP_API_KEYS=json.dumps(keys), OTP_LIMIT_CHANNEL_SENDS="voice=100/hour"
        )
        settings = Settings.from_env(environ)
        assert ((Channel.SMS, "10/minute"),) == settings.api_keys[0].policy.channel_sends
        assert ((Channel.VOICE, "100/hour"),) == settings.api_keys[1].policy.channel_sends

    @pytest.mark.parametrize("sends", [{"fax": "1/hour"}, {"sms": "often"}])
    def test_a_bad_policy_is_refused(self, sends: dict[str, str]) -> None:
        keys = api_keys_json()
        keys[0]["policy"] = {"channel_sends": sends}
        with pytest.raises(ConfigError):
            Settings.from_env(_production(OTP_API_KEYS=json.dumps(keys)))
