"""
Run in a subprocess by test_tracing.py (tracing is installed once per process): start and check
a verification with SMS through the Twilio double, with OTEL_EXPORTER_OTLP_ENDPOINT set, then
flush the spans. Prints the code it checked, so the test can look for it in the spans.
"""

from __future__ import annotations

import json
import os
import re
import sys

from otp_service.app import create_app
from otp_service.config.settings import Settings
from otp_service.tracing.setup import flush
from tests.servers.twilio_double import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER, TwilioDouble
from tests.support import KEYS, PHONE, api_keys_json, auth


def main() -> int:
    with TwilioDouble() as double:
        environ = {
            "OTP_ENV": "development",
            "OTP_REDIS_URL": sys.argv[1],
            "OTP_REDIS_PREFIX": sys.argv[2],
            "OTP_API_KEYS": json.dumps(api_keys_json()),
            "OTP_SMS_PROVIDER": "twilio",
            "OTP_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "OTP_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "OTP_TWILIO_FROM": FROM_NUMBER,
            "OTP_TWILIO_API_BASE": double.url,
        }
        http = create_app(Settings.from_env(environ)).test_client()
        started = http.post(
            "/v1/verifications", json={"to": PHONE, "channel": "sms"}, headers=auth()
        )
        assert 201 == started.status_code, started.text
        body = double.messages_to(PHONE)[-1].field("Body") or ""
        code = re.search(r"\d{6}", body)
        assert code is not None
        verification = started.get_json()
        checked = http.post(
            f"/v1/verifications/{verification['id']}/check",
            json={"code": code.group()},
            headers=auth(),
        )
        assert "approved" == checked.get_json()["status"]
        http.get(f"/v1/locks/destinations/{PHONE}", headers=auth())
    assert flush()
    print(json.dumps({"code": code.group(), "key": KEYS["acme"], "pid": os.getpid()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
