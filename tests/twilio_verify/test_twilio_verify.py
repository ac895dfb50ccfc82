"""
The Twilio Verify v2 face, driven by the real ``twilio`` client over real HTTP.

Every answer the client receives is also validated against Twilio's own OpenAPI document
(``tests/contracts/twilio/twilio_verify_v2.json``): the resource schemas for successes, Twilio's
error body for failures, with every documented property present.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import jsonschema  # type: ignore[import-untyped]
import pytest
import redis
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from otp_service import create_app
from otp_service.config.clients import TwilioVerifyAccount
from otp_service.config.settings import ConfigError, Settings
from otp_service.core import errors
from otp_service.core.models import Channel, Policy
from otp_service.web.problems import PROBLEMS
from otp_service.web.twilio_verify.errors import (
    TWILIO_ERRORS,
    TwilioError,
    error_mapping,
    twilio_error,
)
from otp_service.web.twilio_verify.schemas import (
    from_sid,
    to_sid,
    twilio_time,
)
from tests.conftest import make_clients
from tests.live_http import serving
from tests.support import EMAIL, PHONE, CapturingSender, FakeClock, api_keys_json

SPEC_PATH = Path(__file__).resolve().parents[1] / "contracts" / "twilio" / "twilio_verify_v2.json"
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "5f2b8c1d9e0a4b7c8d3e6f1a2b9c0d4e"
SERVICE_SID = "VA" + "a1" * 16  # → client "acme" (every scope)
STARTER_SERVICE_SID = "VA" + "b2" * 16  # → client "starter" (verifications:start only)
GLOBEX_SERVICE_SID = "VA" + "c3" * 16  # → client "globex"
UNKNOWN_SERVICE_SID = "VA" + "d4" * 16
ERROR_MEMBERS = {"code", "message", "more_info", "status"}


# Twilio's document, as JSON Schema ------------------------------------------------------------


def _json_schema(node: Any, components: dict[str, Any]) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: ``$ref``s inlined, ``nullable`` as a null type."""
    if isinstance(node, list):
        return [_json_schema(item, components) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    converted = {key: _json_schema(value, components) for key, value in node.items()}
    if node.get("nullable") and "type" in node:
        converted["type"] = [node["type"], "null"]
    return converted


def _twilio_date_time(value: object) -> bool:
    # Exactly what the twilio client parses (deserialize.iso8601_datetime).
    return not isinstance(value, str) or bool(datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ"))


def _absolute_uri(value: object) -> bool:
    return not isinstance(value, str) or bool(urlsplit(value).scheme and urlsplit(value).netloc)


FORMATS = jsonschema.FormatChecker(formats=())
FORMATS.checks("date-time", raises=ValueError)(_twilio_date_time)
FORMATS.checks("uri")(_absolute_uri)


class TwilioSpec:
    """Validates answers against the operations of Twilio's Verify v2 document."""

    def __init__(self, path: Path) -> None:
        document = json.loads(path.read_text(encoding="utf-8"))
        self.paths: dict[str, Any] = document["paths"]
        self.components: dict[str, Any] = document["components"]["schemas"]
        create = self.paths["/v2/Services/{ServiceSid}/Verifications"]["post"]
        self.error_schema = create["responses"]["429"]["content"]["application/json"]["schema"]

    def success_schema(self, method: str, path: str, status: int) -> dict[str, Any]:
        """The documented schema of this answer (a KeyError if Twilio documents no such answer)."""
        # A literal path (/v2/Attempts/Summary) before a template it also fits (/v2/Attempts/{Sid}).
        for template, item in sorted(self.paths.items(), key=lambda pair: "{" in pair[0]):
            if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), path):
                response = item[method.lower()]["responses"][str(status)]
                schema = response["content"]["application/json"]["schema"]
                return dict(_json_schema(schema, self.components))
        raise KeyError(f"{method} {path} is not in Twilio's document")

    def check(self, method: str, path: str, status: int, text: str) -> None:
        """Fail unless the answer is exactly what Twilio documents (every property, right types)."""
        body = json.loads(text)
        if 200 <= status < 300:
            schema = self.success_schema(method, path, status)
            assert set(schema["properties"]) == set(body)
        else:
            schema = self.error_schema
            assert ERROR_MEMBERS == set(body)
            assert status == body["status"]
        jsonschema.Draft7Validator(schema, format_checker=FORMATS).validate(body)


SPEC = TwilioSpec(SPEC_PATH)


class LocalTwilioHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """Twilio's own HTTP client, sent to this service instead of Twilio; checks every answer."""

    def __init__(self, base_url: str) -> None:
        super().__init__(timeout=10)
        self.base = urlsplit(base_url)
        self.last: Any = None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        """Rewrite scheme and host (any Twilio domain, edge or region), then send."""
        parts = urlsplit(url)
        local = urlunsplit((self.base.scheme, self.base.netloc, parts.path, parts.query, ""))
        self.last = super().request(method, local, *args, **kwargs)
        SPEC.check(method, parts.path, self.last.status_code, self.last.text)
        return self.last

    def last_json(self) -> Any:
        """The body of the latest answer."""
        return json.loads(self.last.text)


# Fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(name="overrides")
def _overrides() -> dict[str, Any]:
    """Settings a test changes (parametrize ``overrides`` to change them)."""
    return {}


@pytest.fixture(name="channels")
def _channels() -> tuple[Channel, ...]:
    """The channels with a sender (parametrize ``channels`` to change them)."""
    return (Channel.SMS, Channel.EMAIL)


@pytest.fixture(name="base_url")
def _base_url(
    settings: Settings,
    overrides: dict[str, Any],
    channels: tuple[Channel, ...],
    clock: FakeClock,
    sender: CapturingSender,
    redis_client: redis.Redis,
) -> Iterator[str]:
    """The app, with one Twilio account of three services, served over real HTTP on loopback."""
    account = TwilioVerifyAccount(
        ACCOUNT_SID,
        hashlib.sha256(AUTH_TOKEN.encode()).hexdigest(),
        {SERVICE_SID: "acme", STARTER_SERVICE_SID: "starter", GLOBEX_SERVICE_SID: "globex"},
    )
    app = create_app(
        replace(settings, twilio_verify_accounts=(account,), **overrides),
        clock=clock,
        senders=dict.fromkeys(channels, sender),
    )
    with serving(app) as base:
        yield base


@pytest.fixture(name="http_client")
def _http_client(base_url: str) -> Iterator[LocalTwilioHttpClient]:
    client = LocalTwilioHttpClient(base_url)
    yield client
    client.session.close()


def _client(http_client: LocalTwilioHttpClient, token: str = AUTH_TOKEN) -> Any:
    return TwilioClient(ACCOUNT_SID, token, http_client=http_client)


@pytest.fixture(name="service")
def _service(http_client: LocalTwilioHttpClient) -> Any:
    """``client.verify.v2.services(SERVICE_SID)`` of a real twilio ``Client``."""
    return _client(http_client).verify.v2.services(SERVICE_SID)


def _refused(call: Any, *args: Any, **kwargs: Any) -> TwilioRestException:
    with pytest.raises(TwilioRestException) as raised:
        call(*args, **kwargs)
    return raised.value


def test_an_app_switches_with_one_line(base_url: str, sender: CapturingSender) -> None:
    """A stock twilio ``Client`` works once ``client.verify.base_url`` names this service."""
    http = TwilioHttpClient(timeout=10)
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
    client.verify.base_url = base_url  # the README's one line
    service = client.verify.v2.services(SERVICE_SID)
    service.verifications.create(to=PHONE, channel="sms")
    check = service.verification_checks.create(to=PHONE, code=sender.last_code(PHONE))
    http.session.close()
    assert "approved" == check.status


# Pure functions ---------------------------------------------------------------------------------


class TestSids:
    def test_engine_id_maps_to_a_verification_sid(self) -> None:
        """``vf_`` + 32 hex becomes ``VE`` + the same hex."""
        assert "VE" + "0a" * 16 == to_sid("vf_" + "0a" * 16)

    def test_sid_maps_back_to_the_engine_id(self) -> None:
        """A SID maps back to its engine id, whatever the case of its hex."""
        assert "vf_" + "0a" * 16 == from_sid("VE" + "0A" * 16)

    @pytest.mark.parametrize(
        "sid", ["VE" + "0" * 31, "VA" + "0" * 32, "ve" + "0" * 32, "VE" + "0" * 32 + "\n", ""]
    )
    def test_malformed_sid_maps_to_nothing(self, sid: str) -> None:
        """Anything but ``VE`` + 32 hex names no verification."""
        assert from_sid(sid) is None

    def test_only_engine_ids_get_a_sid(self) -> None:
        """An id that is not the engine's cannot be rendered as a SID."""
        with pytest.raises(ValueError, match="not a verification id"):
            to_sid("vf_" + "g" * 32)

    def test_times_are_what_the_twilio_client_parses(self) -> None:
        """Times are ISO 8601 in UTC to the second, as in Twilio's examples."""
        assert "2027-01-15T08:00:00Z" == twilio_time(1_800_000_000_000)


def _leaves(cls: type[errors.OTPError]) -> list[type[errors.OTPError]]:
    children = cls.__subclasses__()
    return [cls] if not children else [leaf for child in children for leaf in _leaves(child)]


class TestErrorTable:
    ENGINE_ERRORS = (
        errors.InvalidRequest,
        errors.ChannelNotAllowed,
        errors.CountryNotAllowed,
        errors.VerificationNotFound,
        errors.TooManyAttempts,
        errors.ResendTooSoon,
        errors.MaxSendsReached,
        errors.RateLimited,
        errors.InvalidDestination,
        errors.DeliveryFailed,
        errors.StoreUnavailable,
        errors.StoreCorrupted,
    )

    def test_engine_errors_have_twilio_codes_of_their_own(self) -> None:
        """Every error the verification engine raises has its own row in the table."""
        assert [] == [kind.__name__ for kind in self.ENGINE_ERRORS if kind not in TWILIO_ERRORS]

    @pytest.mark.parametrize(
        ("error", "expected"),
        [
            (errors.StoreUnavailable("down"), TwilioError(503, 20503, "Service unavailable", 2)),
            (
                errors.DeliveryFailed("provider", retryable=True),
                TwilioError(503, 20503, "Service unavailable", 30),
            ),
            (
                errors.RateLimited(7, "destination_sends", "slow down"),
                TwilioError(429, 20429, "Too many requests: slow down", 7),
            ),
            (
                errors.InvalidRequest([errors.FieldError("to", "is not a phone number")]),
                TwilioError(400, 60200, "Invalid parameter: To (is not a phone number)"),
            ),
        ],
        ids=["store", "delivery", "rate-limit", "invalid"],
    )
    def test_errors_render_as_twilio_errors(
        self, error: errors.OTPError, expected: TwilioError
    ) -> None:
        """Status, code, message and Retry-After of representative errors."""
        assert expected == twilio_error(error, resource="/Services/VA/Verifications")

    @pytest.mark.parametrize("kind", _leaves(errors.OTPError), ids=lambda kind: kind.__name__)
    def test_every_error_gets_a_twilio_status_and_code(self, kind: type[errors.OTPError]) -> None:
        """Any other leaf still answers with the HTTP status class and a Twilio code."""
        status, code, _ = error_mapping(kind)
        assert (status // 100, True) == (PROBLEMS[kind][0] // 100, 20000 < code < 70000)


class TestSettings:
    def _environ(self, accounts: Any) -> dict[str, str]:
        return {
            "OTP_ENV": "development",
            "OTP_REDIS_URL": "redis://127.0.0.1:1",
            "OTP_API_KEYS": json.dumps(api_keys_json()),
            "OTP_TWILIO_VERIFY_ACCOUNTS": json.dumps(accounts),
        }

    def test_accounts_map_services_to_clients(self) -> None:
        """Each account keeps its SID, the token's SHA-256 and its service → client map."""
        digest = hashlib.sha256(AUTH_TOKEN.encode()).hexdigest()
        entry = {"account_sid": ACCOUNT_SID, "auth_token_sha256": digest}
        settings = Settings.from_env(self._environ([{**entry, "services": {SERVICE_SID: "acme"}}]))
        expected = TwilioVerifyAccount(ACCOUNT_SID, digest, {SERVICE_SID: "acme"})
        assert (expected,) == settings.twilio_verify_accounts

    def test_every_problem_is_listed(self) -> None:
        """A bad token hash, a repeated service and an unknown client are all reported."""
        good = {"account_sid": ACCOUNT_SID, "auth_token_sha256": "0" * 64}
        with pytest.raises(ConfigError) as raised:
            Settings.from_env(
                self._environ(
                    [
                        {**good, "services": {SERVICE_SID: "acme"}},
                        {**good, "services": {SERVICE_SID: "nobody"}},
                    ]
                )
            )
        assert [
            f"OTP_TWILIO_VERIFY_ACCOUNTS[1]: account {ACCOUNT_SID} is listed twice",
            f"OTP_TWILIO_VERIFY_ACCOUNTS[1]: service {SERVICE_SID} is listed twice",
            f"OTP_TWILIO_VERIFY_ACCOUNTS[1].services.{SERVICE_SID}: no client named 'nobody' "
            "in OTP_API_KEYS",
        ] == raised.value.problems

    def test_malformed_entries_are_refused(self) -> None:
        """Token hashes must be SHA-256 hex and service SIDs ``VA`` + 32 hex."""
        entry = {"account_sid": ACCOUNT_SID, "auth_token_sha256": AUTH_TOKEN}
        with pytest.raises(ConfigError) as raised:
            Settings.from_env(self._environ([{**entry, "services": {"VA1": "acme"}}]))
        assert 2 == len(raised.value.problems)


# Verifications ----------------------------------------------------------------------------------


class TestCreate:
    def test_create_sends_a_code_and_answers_a_pending_verification(
        self, service: Any, sender: CapturingSender
    ) -> None:
        """The client's Verification is pending, for the full ``to``, with a ``VE`` SID."""
        verification = service.verifications.create(to=PHONE, channel="sms")
        assert ("pending", False, PHONE, "sms") == (
            verification.status,
            verification.valid,
            verification.to,
            verification.channel,
        )
        assert verification.sid == to_sid(sender.sent[-1].verification_id)

    def test_resource_has_every_twilio_property(
        self, service: Any, http_client: LocalTwilioHttpClient, base_url: str
    ) -> None:
        """The JSON is Twilio's resource: unknown things null, times and URL filled in."""
        sid = service.verifications.create(to=PHONE, channel="sms").sid
        assert {
            "sid": sid,
            "service_sid": SERVICE_SID,
            "account_sid": ACCOUNT_SID,
            "to": PHONE,
            "channel": "sms",
            "status": "pending",
            "valid": False,
            "lookup": {},
            "amount": None,
            "payee": None,
            "send_code_attempts": [
                {
                    "attempt_sid": f"VL{500000:08x}01{sid[2:24].lower()}",
                    "channel": "SMS",
                    "time": "2027-01-15T08:00:00Z",
                }
            ],
            "date_created": "2027-01-15T08:00:00Z",
            "date_updated": "2027-01-15T08:00:00Z",
            "sna": None,
            "url": f"{base_url}/v2/Services/{SERVICE_SID}/Verifications/{sid}",
        } == http_client.last_json()

    def test_dates_reach_the_client_as_datetimes(self, service: Any) -> None:
        """The twilio client parses ``date_created`` into the service clock's time."""
        verification = service.verifications.create(to=PHONE, channel="sms")
        assert datetime(2027, 1, 15, 8, 0, tzinfo=UTC) == verification.date_created

    def test_create_again_resends_with_the_same_sid(
        self, service: Any, sender: CapturingSender, clock: FakeClock
    ) -> None:
        """After the cooldown, a second create resends the pending one: same SID, 2 attempts."""
        first = service.verifications.create(to=PHONE, channel="sms")
        clock.advance(31)
        second = service.verifications.create(to=PHONE, channel="sms")
        assert (first.sid, 2, 2) == (second.sid, len(second.send_code_attempts), len(sender.sent))

    def test_create_again_within_the_cooldown_is_20429(
        self, service: Any, http_client: LocalTwilioHttpClient
    ) -> None:
        """A resend before the cooldown ends is Twilio's 429 20429, with Retry-After."""
        service.verifications.create(to=PHONE, channel="sms")
        error = _refused(service.verifications.create, to=PHONE, channel="sms")
        assert (429, 20429, "30") == (
            error.status,
            error.code,
            http_client.last.headers["Retry-After"],
        )

    def test_sends_past_the_maximum_are_60203(self, service: Any, clock: FakeClock) -> None:
        """The sixth send of one verification is 429 60203 (max send attempts reached)."""
        for _ in range(5):
            service.verifications.create(to=PHONE, channel="sms")
            clock.advance(31)
        error = _refused(service.verifications.create, to=PHONE, channel="sms")
        assert (429, 60203) == (error.status, error.code)

    def test_email_channel_works(self, service: Any, sender: CapturingSender) -> None:
        """``Channel=email`` sends the code by email and checks by ``To`` like SMS."""
        service.verifications.create(to=EMAIL, channel="email")
        check = service.verification_checks.create(to=EMAIL, code=sender.last_code(EMAIL))
        assert ("approved", "email") == (check.status, check.channel)

    def test_custom_friendly_name_is_the_brand_of_the_message(
        self, service: Any, sender: CapturingSender
    ) -> None:
        """``CustomFriendlyName`` names the sender in the message, as on Twilio."""
        service.verifications.create(to=PHONE, channel="sms", custom_friendly_name="Acme Bank")
        assert "Acme Bank" in sender.sent[-1].text

    @pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x1b"])
    def test_separators_in_custom_friendly_name_are_an_invalid_parameter(
        self, service: Any, sender: CapturingSender, separator: str
    ) -> None:
        """A line or paragraph separator or a control character is 400 60200, never a 5xx."""
        error = _refused(
            service.verifications.create,
            to=PHONE,
            channel="sms",
            custom_friendly_name=f"Acme{separator}Bank",
        )
        assert (400, 60200) == (error.status, error.code)
        assert [] == sender.sent

    @pytest.mark.parametrize("channel", ["whatsapp", "call"])
    def test_channels_this_service_lacks_are_disabled(self, service: Any, channel: str) -> None:
        """Twilio channels not served here answer as a disabled channel does: 400 60223."""
        error = _refused(service.verifications.create, to=PHONE, channel=channel)
        assert (400, 60223) == (error.status, error.code)

    @pytest.mark.parametrize("channels", [tuple(Channel)])
    @pytest.mark.parametrize(("channel", "attempt"), [("whatsapp", "WHATSAPP"), ("call", "CALL")])
    def test_whatsapp_and_calls_are_served(
        self, service: Any, sender: CapturingSender, channel: str, attempt: str
    ) -> None:
        """With their senders, ``Channel=whatsapp`` and ``Channel=call`` work as on Twilio."""
        started = service.verifications.create(to=PHONE, channel=channel)
        assert (channel, attempt) == (started.channel, started.send_code_attempts[0]["channel"])
        check = service.verification_checks.create(to=PHONE, code=sender.last_code(PHONE))
        assert ("approved", channel) == (check.status, check.channel)

    def test_unknown_channel_is_an_invalid_parameter(self, service: Any) -> None:
        """A channel Twilio does not know is 400 60200 naming ``Channel``."""
        error = _refused(service.verifications.create, to=PHONE, channel="pigeon")
        assert (400, 60200) == (error.status, error.code)
        assert "Invalid parameter: Channel" in error.msg

    def test_invalid_to_is_an_invalid_parameter(self, service: Any) -> None:
        """A ``To`` that is no phone number is 400 60200 naming ``To``."""
        error = _refused(service.verifications.create, to="not a number", channel="sms")
        assert (400, 60200) == (error.status, error.code)
        assert "Invalid parameter: To" in error.msg

    @pytest.mark.parametrize("overrides", [{"sms_country_limit": "1/hour"}])
    def test_pumping_guard_blocks_like_fraud_guard(
        self, service: Any, http_client: LocalTwilioHttpClient
    ) -> None:
        """Past the per-country SMS cap, a send is 403 60410 (blocked), with Retry-After."""
        service.verifications.create(to=PHONE, channel="sms")
        error = _refused(service.verifications.create, to="+14155550101", channel="sms")
        assert (403, 60410, True) == (
            error.status,
            error.code,
            int(http_client.last.headers["Retry-After"]) > 0,
        )

    @pytest.mark.parametrize(
        "overrides", [{"api_keys": make_clients(Policy(sms_allowed_countries=frozenset({"FR"})))}]
    )
    def test_country_not_allowed_is_blocked_by_geo_permissions(self, service: Any) -> None:
        """SMS to a country the client's policy does not allow is 403 60605, as Geo-Permissions."""
        error = _refused(service.verifications.create, to=PHONE, channel="sms")
        assert (403, 60605) == (error.status, error.code)

    @pytest.mark.parametrize("overrides", [{"api_keys": make_clients(Policy(ip_starts="1/hour"))}])
    def test_device_ip_is_counted_by_the_per_ip_limit(self, service: Any) -> None:
        """Starts from one ``DeviceIp`` share the per-IP limit of /v1: the second is 20429."""
        service.verifications.create(to=PHONE, channel="sms", device_ip="203.0.113.9")
        error = _refused(
            service.verifications.create, to=EMAIL, channel="email", device_ip="203.0.113.9"
        )
        assert (429, 20429) == (error.status, error.code)

    def test_device_ip_must_be_an_ip_address(self, service: Any) -> None:
        """``DeviceIp`` (the end user's address, counted by the per-IP limit) must be an IP."""
        error = _refused(
            service.verifications.create, to=PHONE, channel="sms", device_ip="not-an-ip"
        )
        assert (400, 60200) == (error.status, error.code)
        assert "Invalid parameter: DeviceIp" in error.msg

    def test_custom_code_is_refused(self, service: Any, sender: CapturingSender) -> None:
        """A caller-chosen code would change what a code proves: 403 60204, nothing sent."""
        error = _refused(service.verifications.create, to=PHONE, channel="sms", custom_code="1234")
        assert (403, 60204, []) == (error.status, error.code, sender.sent)


class TestCheck:
    def test_right_code_by_to_approves(self, service: Any, sender: CapturingSender) -> None:
        """The full flow: create, then check the code by ``To``: approved and valid."""
        created = service.verifications.create(to=PHONE, channel="sms")
        check = service.verification_checks.create(to=PHONE, code=sender.last_code(PHONE))
        assert (created.sid, "approved", True, PHONE, "sms") == (
            check.sid,
            check.status,
            check.valid,
            check.to,
            check.channel,
        )

    def test_right_code_by_sid_approves(self, service: Any, sender: CapturingSender) -> None:
        """Checking by ``VerificationSid`` approves too."""
        sid = service.verifications.create(to=PHONE, channel="sms").sid
        check = service.verification_checks.create(
            verification_sid=sid, code=sender.last_code(PHONE)
        )
        assert ("approved", True) == (check.status, check.valid)

    def test_wrong_code_is_pending_and_not_valid(self, service: Any) -> None:
        """A wrong code is not an error: 200, pending, valid false."""
        service.verifications.create(to=PHONE, channel="sms")
        check = service.verification_checks.create(to=PHONE, code="000000")
        assert ("pending", False) == (check.status, check.valid)

    def test_checks_past_the_maximum_are_60202(self, service: Any) -> None:
        """After max_attempts wrong codes, the next check is 429 60202."""
        service.verifications.create(to=PHONE, channel="sms")
        for _ in range(5):
            service.verification_checks.create(to=PHONE, code="000000")
        error = _refused(service.verification_checks.create, to=PHONE, code="000000")
        assert (429, 60202) == (error.status, error.code)

    def test_unknown_verification_is_20404(self, service: Any) -> None:
        """A SID that names nothing is 404 20404."""
        error = _refused(
            service.verification_checks.create, verification_sid="VE" + "0" * 32, code="123456"
        )
        assert (404, 20404) == (error.status, error.code)

    def test_expired_verification_is_20404(
        self, service: Any, sender: CapturingSender, clock: FakeClock
    ) -> None:
        """Once its code has expired, even the right code gets 404 20404."""
        service.verifications.create(to=PHONE, channel="sms")
        clock.advance(601)
        error = _refused(service.verification_checks.create, to=PHONE, code=sender.last_code(PHONE))
        assert (404, 20404) == (error.status, error.code)

    def test_approved_verification_is_20404(self, service: Any, sender: CapturingSender) -> None:
        """A code approves once: checking it again is 404 20404."""
        service.verifications.create(to=PHONE, channel="sms")
        service.verification_checks.create(to=PHONE, code=sender.last_code(PHONE))
        error = _refused(service.verification_checks.create, to=PHONE, code=sender.last_code(PHONE))
        assert (404, 20404) == (error.status, error.code)

    def test_code_of_another_length_is_an_invalid_parameter(self, service: Any) -> None:
        """A code that cannot have the service's length is 400 60200 and costs no check."""
        service.verifications.create(to=PHONE, channel="sms")
        error = _refused(service.verification_checks.create, to=PHONE, code="1234")
        assert (400, 60200) == (error.status, error.code)

    def test_to_or_sid_is_required(self, service: Any) -> None:
        """A check naming no verification is 400 60200."""
        error = _refused(service.verification_checks.create, code="123456")
        assert (400, 60200) == (error.status, error.code)


class TestFetchAndUpdate:
    def test_fetch_shows_the_verification(self, service: Any) -> None:
        """Fetching by SID answers the same verification."""
        sid = service.verifications.create(to=PHONE, channel="sms").sid
        fetched = service.verifications(sid).fetch()
        assert (sid, "pending", PHONE) == (fetched.sid, fetched.status, fetched.to)

    def test_fetch_after_expiry_shows_expired(self, service: Any, clock: FakeClock) -> None:
        """A verification read after its expiry is ``expired``."""
        sid = service.verifications.create(to=PHONE, channel="sms").sid
        clock.advance(601)
        assert "expired" == service.verifications(sid).fetch().status

    def test_fetch_unknown_sid_is_20404(self, service: Any) -> None:
        """Fetching a SID that names nothing is 404 20404."""
        error = _refused(service.verifications("VE" + "0" * 32).fetch)
        assert (404, 20404) == (error.status, error.code)

    def test_cancel_stops_the_code(self, service: Any, sender: CapturingSender) -> None:
        """``Status=canceled`` answers canceled, and the code no longer checks (20404)."""
        sid = service.verifications.create(to=PHONE, channel="sms").sid
        canceled = service.verifications(sid).update(status="canceled")
        error = _refused(service.verification_checks.create, to=PHONE, code=sender.last_code(PHONE))
        assert ("canceled", 20404) == (canceled.status, error.code)

    def test_approve_without_code(self, service: Any) -> None:
        """``Status=approved`` approves a pending verification server-side."""
        sid = service.verifications.create(to=PHONE, channel="sms").sid
        approved = service.verifications(sid).update(status="approved")
        assert ("approved", True) == (approved.status, approved.valid)

    def test_approve_happens_once(self, service: Any) -> None:
        """An approved verification cannot be approved again (20404)."""
        sid = service.verifications.create(to=PHONE, channel="sms").sid
        service.verifications(sid).update(status="approved")
        error = _refused(service.verifications(sid).update, status="approved")
        assert (404, 20404) == (error.status, error.code)

    def test_locked_verification_cannot_be_approved(self, service: Any) -> None:
        """Once every check is used, approving without a code is refused too (20404)."""
        sid = service.verifications.create(to=PHONE, channel="sms").sid
        for _ in range(5):
            service.verification_checks.create(verification_sid=sid, code="000000")
        error = _refused(service.verifications(sid).update, status="approved")
        assert (404, 20404) == (error.status, error.code)

    def test_approve_needs_the_check_scope(self, http_client: LocalTwilioHttpClient) -> None:
        """A service whose client may only start cannot approve: 403 20403."""
        starter = _client(http_client).verify.v2.services(STARTER_SERVICE_SID)
        sid = starter.verifications.create(to=PHONE, channel="sms").sid
        error = _refused(starter.verifications(sid).update, status="approved")
        assert (403, 20403) == (error.status, error.code)

    def test_other_status_is_an_invalid_parameter(self, service: Any) -> None:
        """Only ``canceled`` and ``approved`` can be set."""
        sid = service.verifications.create(to=PHONE, channel="sms").sid
        error = _refused(service.verifications(sid).update, status="pending")
        assert (400, 60200) == (error.status, error.code)


class TestAccess:
    def test_wrong_token_is_20003(self, http_client: LocalTwilioHttpClient) -> None:
        """A wrong auth token is 401 20003."""
        service = _client(http_client, token=secrets.token_hex(16)).verify.v2.services(SERVICE_SID)
        error = _refused(service.verifications.create, to=PHONE, channel="sms")
        assert (401, 20003) == (error.status, error.code)

    def test_unknown_service_is_20404(self, http_client: LocalTwilioHttpClient) -> None:
        """A service SID the account does not have is 404 20404."""
        service = _client(http_client).verify.v2.services(UNKNOWN_SERVICE_SID)
        error = _refused(service.verifications.create, to=PHONE, channel="sms")
        assert (404, 20404) == (error.status, error.code)

    def test_services_of_other_clients_see_nothing(
        self, service: Any, http_client: LocalTwilioHttpClient
    ) -> None:
        """A verification of one service's client is 20404 through another client's service."""
        sid = service.verifications.create(to=PHONE, channel="sms").sid
        globex = _client(http_client).verify.v2.services(GLOBEX_SERVICE_SID)
        error = _refused(globex.verifications(sid).fetch)
        assert (404, 20404) == (error.status, error.code)

    def test_v2_errors_are_twilio_bodies_and_v1_keeps_problems(self, base_url: str) -> None:
        """The same failure is Twilio's JSON under /v2 and problem+json under /v1."""
        v2 = requests.post(f"{base_url}/v2/Services/{SERVICE_SID}/Verifications", timeout=10)
        v1 = requests.post(f"{base_url}/v1/verifications", timeout=10)
        assert ("application/json", 20003) == (v2.headers["Content-Type"], v2.json()["code"])
        assert "application/problem+json" == v1.headers["Content-Type"]

    def test_unknown_v2_path_is_twilio_20404(self, base_url: str) -> None:
        """A path Twilio would not know answers Twilio's 20404 body."""
        response = requests.get(f"{base_url}/v2/Services/{SERVICE_SID}/Nothing", timeout=10)
        SPEC.check("GET", "/v2/Services/x/Nothing", response.status_code, response.text)
        assert (404, 20404) == (response.status_code, response.json()["code"])
