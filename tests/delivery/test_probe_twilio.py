"""``check-config --probe`` for Twilio: one authenticated read, through the real client."""

from __future__ import annotations

from otp_service.config.settings import Settings
from otp_service.ops.probes import probe_twilio
from tests.servers import free_port
from tests.servers.prism import Prism
from tests.servers.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER


def _settings(api_base: str) -> Settings:
    return Settings(
        sms_provider="twilio",
        twilio_account_sid=ACCOUNT_SID,
        twilio_auth_token=AUTH_TOKEN,
        twilio_from=FROM_NUMBER,
        twilio_api_base=api_base,
        delivery_timeout_seconds=5,
    )


def test_the_account_is_fetched(prism: Prism) -> None:
    """Prism validates the request against Twilio's document (auth included) and answers."""
    result = probe_twilio(_settings(prism.url))
    assert ("twilio", "ok") == (result.name, result.status), result.text
    assert result.text.startswith(f"{prism.url}: account {ACCOUNT_SID} is ")


def test_an_unreachable_twilio_fails() -> None:
    """A base URL where nothing listens is one FAIL line saying the connection failed."""
    base = f"http://127.0.0.1:{free_port()}"
    result = probe_twilio(_settings(base))
    assert "FAIL" == result.status
    assert result.text.startswith(f"{base}: account {ACCOUNT_SID}: ConnectionError")


def test_twilio_is_skipped_when_it_is_not_the_sms_provider() -> None:
    """Nothing is requested from a provider the configuration does not use."""
    assert "skip" == probe_twilio(Settings(sms_provider="none")).status
