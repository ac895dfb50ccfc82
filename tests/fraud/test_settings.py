"""The pumping guard's settings: its mode per environment, the safe list, a client's policy."""

from __future__ import annotations

import json

import pytest

from otp_service.config.settings import ConfigError, Settings
from tests.config.test_check_config import _production
from tests.support import api_keys_json


def test_production_blocks_and_development_monitors_by_default() -> None:
    assert "block" == Settings.from_env(_production()).fraud_guard
    development = {"OTP_ENV": "development", "OTP_REDIS_URL": "redis://127.0.0.1:6379/0"}
    assert "monitor" == Settings.from_env(development).fraud_guard


@pytest.mark.parametrize("mode", ["off", "monitor", "block"])
def test_the_mode_is_set(mode: str) -> None:
    assert mode == Settings.from_env(_production(OTP_FRAUD_GUARD=mode)).fraud_guard


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(_production(OTP_FRAUD_GUARD="loud"))
    assert any("OTP_FRAUD_GUARD must be one of" in p for p in raised.value.problems)


def test_the_safe_list_holds_numbers_and_prefixes() -> None:
    settings = Settings.from_env(_production(OTP_FRAUD_SAFE_LIST="+14155550100, +4477009"))
    assert ("+14155550100", "+4477009") == settings.fraud_safe_list


@pytest.mark.parametrize("entry", ["14155550100", "+0123", "+1415-555", "US", "+" + "1" * 16])
def test_a_safe_list_entry_that_is_no_e164_prefix_is_refused(entry: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Settings.from_env(_production(OTP_FRAUD_SAFE_LIST=f"+1415,{entry}"))
    assert any("OTP_FRAUD_SAFE_LIST must be E.164" in p for p in raised.value.problems)


def test_a_client_policy_sets_the_thresholds() -> None:
    keys = api_keys_json()
    keys[0]["policy"] = {"fraud_allowance": 5, "fraud_ratio": 0.3, "fraud_block_seconds": 3600}
    settings = Settings.from_env(_production(OTP_API_KEYS=json.dumps(keys)))
    policy = settings.api_keys[0].policy
    assert (5, 0.3, 3600) == (
        policy.fraud_allowance,
        policy.fraud_ratio,
        policy.fraud_block_seconds,
    )


@pytest.mark.parametrize(
    "policy",
    [{"fraud_allowance": 0}, {"fraud_ratio": 0}, {"fraud_ratio": 1.5}, {"fraud_block_seconds": 1}],
)
def test_thresholds_out_of_range_are_refused(policy: dict[str, float]) -> None:
    keys = api_keys_json()
    keys[0]["policy"] = policy
    with pytest.raises(ConfigError):
        Settings.from_env(_production(OTP_API_KEYS=json.dumps(keys)))
