"""
API clients (``OTP_API_KEYS``) and Twilio Verify accounts (``OTP_TWILIO_VERIFY_ACCOUNTS``): JSON
documents parsed into value objects, with every problem reported (for ``Settings``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Annotated, Any, Final, TypeVar

import pydantic

from otp_service.abuse import parse_limits
from otp_service.core.models import Channel, Client, Policy, Scope

_Model = TypeVar("_Model", bound=pydantic.BaseModel)


class _PolicyModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    code_length: int | None = pydantic.Field(None, ge=4, le=10)
    code_ttl_seconds: int | None = pydantic.Field(None, ge=30, le=86_400)
    max_attempts: int | None = pydantic.Field(None, ge=1, le=100)
    max_sends: int | None = pydantic.Field(None, ge=1, le=100)
    resend_cooldown_seconds: int | None = pydantic.Field(None, ge=0, le=3600)
    channels: list[Channel] | None = None
    brand_name: str | None = pydantic.Field(None, min_length=1, max_length=40)
    webotp_domain: str | None = pydantic.Field(None, pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")
    default_locale: str | None = pydantic.Field(None, pattern=r"^[a-z]{2}$")
    destination_sends: str | None = None
    client_starts: str | None = None
    ip_starts: str | None = None
    destination_failures: str | None = None
    channel_sends: dict[Channel, str] | None = None
    sms_allowed_countries: list[Annotated[str, pydantic.Field(pattern=r"^[A-Z]{2}$")]] | None = None
    trust_context_ip: bool | None = None
    fraud_allowance: int | None = pydantic.Field(None, ge=1, le=100_000)
    fraud_ratio: float | None = pydantic.Field(None, gt=0, le=1)
    fraud_block_seconds: int | None = pydantic.Field(None, ge=60, le=30 * 86_400)

    @pydantic.field_validator(
        "destination_sends", "client_starts", "ip_starts", "destination_failures"
    )
    @classmethod
    def _limit_spec(cls, value: str | None) -> str | None:
        if value is not None:
            parse_limits(value)
        return value

    @pydantic.field_validator("channel_sends")
    @classmethod
    def _channel_limits(cls, value: dict[Channel, str] | None) -> dict[Channel, str] | None:
        for spec in (value or {}).values():
            parse_limits(spec)
        return value


class _ClientModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    name: str = pydantic.Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    key_sha256: str = pydantic.Field(pattern=r"^[0-9a-f]{64}$")
    scopes: list[Scope] = pydantic.Field(min_length=1)
    policy: _PolicyModel = _PolicyModel()


_CLIENTS: Final = pydantic.TypeAdapter(list[_ClientModel])
_ServiceSid = Annotated[str, pydantic.StringConstraints(pattern=r"^VA[0-9a-fA-F]{32}$")]


class _TwilioVerifyAccountModel(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    account_sid: str = pydantic.Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    auth_token_sha256: str = pydantic.Field(pattern=r"^[0-9a-f]{64}$")
    services: dict[_ServiceSid, str] = pydantic.Field(min_length=1)


_TWILIO_VERIFY_ACCOUNTS: Final = pydantic.TypeAdapter(list[_TwilioVerifyAccountModel])


@dataclass(frozen=True, slots=True)
class TwilioVerifyAccount:
    """
    Credentials of the Twilio Verify compatible API (``/v2``) and the Verify services they reach.

    ``services`` maps each service SID (``VA`` + 32 hex) to the name of the client (of
    ``OTP_API_KEYS``) whose policy, scopes and verifications it uses. Only the SHA-256 of the auth
    token is kept.
    """

    account_sid: str
    auth_token_sha256: str
    services: Mapping[str, str] = field(default_factory=dict, hash=False)


def parse_json_list(
    variable: str, value: str, adapter: pydantic.TypeAdapter[list[_Model]]
) -> tuple[list[_Model], list[str]]:
    """The models of a JSON list, or the problems with it (each naming where it is)."""
    try:
        document = json.loads(value)
    except json.JSONDecodeError as error:
        return [], [f"{variable} is not JSON ({error.msg} at {error.pos})"]
    if not isinstance(document, list):
        kind = "one object" if isinstance(document, dict) else type(document).__name__
        return [], [
            f"{variable} must be a JSON list, [ ... ], of entries (got {kind}: wrap it in [ ])"
        ]
    try:
        return adapter.validate_python(document), []
    except pydantic.ValidationError as error:
        return [], [
            f"{variable}[{'.'.join(str(part) for part in item['loc'])}]: {item['msg']}"
            for item in error.errors()
        ]


def parse_clients(value: str, defaults: Policy) -> tuple[tuple[Client, ...], list[str]]:
    """The clients of ``OTP_API_KEYS`` (each policy completed from ``defaults``) and problems."""
    models, problems = parse_json_list("OTP_API_KEYS", value, _CLIENTS)
    names = [model.name for model in models]
    if len(set(names)) != len(names):
        problems.append("OTP_API_KEYS has two clients with the same name")
    return tuple(_client(model, defaults) for model in models), problems


def parse_twilio_verify_accounts(
    value: str, client_names: set[str]
) -> tuple[tuple[TwilioVerifyAccount, ...], list[str]]:
    """The accounts of ``OTP_TWILIO_VERIFY_ACCOUNTS`` and the problems with them."""
    variable = "OTP_TWILIO_VERIFY_ACCOUNTS"
    models, problems = parse_json_list(variable, value, _TWILIO_VERIFY_ACCOUNTS)
    accounts: set[str] = set()
    services: set[str] = set()
    for index, model in enumerate(models):
        where = f"{variable}[{index}]"
        if model.account_sid in accounts:
            problems.append(f"{where}: account {model.account_sid} is listed twice")
        accounts.add(model.account_sid)
        for service_sid, client_name in model.services.items():
            if service_sid in services:
                problems.append(f"{where}: service {service_sid} is listed twice")
            services.add(service_sid)
            if client_name not in client_names:
                problems.append(
                    f"{where}.services.{service_sid}: no client named {client_name!r} "
                    "in OTP_API_KEYS"
                )
    parsed = tuple(
        TwilioVerifyAccount(model.account_sid, model.auth_token_sha256, dict(model.services))
        for model in models
    )
    return (parsed if not problems else ()), problems


def _client(model: _ClientModel, defaults: Policy) -> Client:
    overrides = {
        name: value
        for name, value in model.policy.model_dump(exclude_none=True).items()
        if name not in ("channels", "sms_allowed_countries", "channel_sends")
    }
    if model.policy.channels is not None:
        overrides["channels"] = frozenset(model.policy.channels)
    if model.policy.channel_sends is not None:
        overrides["channel_sends"] = tuple(sorted(model.policy.channel_sends.items()))
    if model.policy.sms_allowed_countries is not None:
        overrides["sms_allowed_countries"] = frozenset(model.policy.sms_allowed_countries)
    return Client(
        name=model.name,
        key_sha256=model.key_sha256,
        scopes=frozenset(model.scopes),
        policy=Policy(**{**_policy_values(defaults), **overrides}),
    )


def _policy_values(policy: Policy) -> dict[str, Any]:
    return {f.name: getattr(policy, f.name) for f in fields(policy)}
