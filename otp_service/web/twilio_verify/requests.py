"""
What a ``/v2`` request says: the account (HTTP Basic), the service it acts through, its form
parameters and the engine's names for Twilio's channels and SIDs.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from typing import TypeVar

import pydantic
from flask import g, request

from otp_service.config.clients import TwilioVerifyAccount
from otp_service.core.errors import (
    ChannelNotAllowed,
    FieldError,
    Forbidden,
    InvalidRequest,
    Unauthenticated,
    VerificationNotFound,
)
from otp_service.core.models import Channel, Client, Scope
from otp_service.web.context import services
from otp_service.web.twilio_verify.errors import UnsupportedFeature
from otp_service.web.twilio_verify.schemas import (
    DISABLED_CHANNELS,
    UNSUPPORTED_PARAMETERS,
    ServiceRef,
    from_sid,
)

_Form = TypeVar("_Form", bound=pydantic.BaseModel)


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated account, acting through one of its services (one client)."""

    client: Client
    ref: ServiceRef


def account() -> TwilioVerifyAccount:
    """
    The account whose SID and auth token came with HTTP Basic (compared in constant time).

    Raises:
        Unauthenticated: no or wrong credentials (401, 20003).
    """
    credentials = request.authorization
    if credentials is None or credentials.type != "basic":
        raise Unauthenticated("Send the account SID and auth token with HTTP Basic authentication.")
    sid = (credentials.username or "").encode()
    digest = hashlib.sha256((credentials.password or "").encode()).hexdigest().encode()
    found = None
    # Every account is compared in full, so the time taken says nothing about which one matched.
    for account in services().settings.twilio_verify_accounts:
        same_sid = hmac.compare_digest(account.account_sid.encode(), sid)
        same_token = hmac.compare_digest(account.auth_token_sha256.encode(), digest)
        if same_sid & same_token:
            found = account
    if found is None:
        raise Unauthenticated("The account SID and auth token are not valid.")
    return found


def caller_of(service_sid: str, scope: Scope | None = None) -> Caller:
    """
    The client that ``service_sid`` names, for the authenticated account.

    Raises:
        Unauthenticated: no or wrong credentials (401, 20003).
        VerificationNotFound: the account has no such service (404, 20404).
        Forbidden: the service's client lacks ``scope`` (403).
    """
    authenticated = account()
    client_name = authenticated.services.get(service_sid)
    client = next((c for c in services().settings.api_keys if c.name == client_name), None)
    if client is None:
        raise VerificationNotFound("No such service.")
    g.client_name = client.name
    ref = ServiceRef(authenticated.account_sid, service_sid, base_url())
    caller = Caller(client, ref)
    if scope is not None:
        require_scope(caller, scope)
    return caller


def base_url() -> str:
    """Where this API is served: ``OTP_PUBLIC_BASE_URL``, else the request's own host."""
    return (services().settings.public_base_url or request.host_url).rstrip("/")


def require_scope(caller: Caller, scope: Scope) -> None:
    """
    Raises:
        Forbidden: the service's client lacks ``scope``.
    """
    if scope not in caller.client.scopes:
        raise Forbidden(f"The client of this service does not have the {scope.value} scope.")


def parse_form(model: type[_Form]) -> _Form:
    """
    The form parameters of the request, validated by ``model`` (the first value of each).

    Raises:
        UnsupportedFeature: a parameter this service does not support was sent (60204).
        InvalidRequest: a parameter is missing or malformed (60200).
    """
    fields = {name: request.form[name] for name in request.form}
    for name in UNSUPPORTED_PARAMETERS:
        if fields.get(name):
            raise UnsupportedFeature(name)
    try:
        return model.model_validate(fields)
    except pydantic.ValidationError as error:
        raise InvalidRequest(
            [
                FieldError(str(item["loc"][0]) if item["loc"] else "body", item["msg"])
                for item in error.errors(include_url=False, include_input=False)
            ]
        ) from error


def engine_channel(raw: str) -> Channel:
    """The engine channel of Twilio's ``Channel``; Twilio's other channels are disabled here."""
    if raw == "call":
        return Channel.VOICE
    if raw in (Channel.SMS, Channel.EMAIL, Channel.WHATSAPP):
        return Channel(raw)
    if raw in DISABLED_CHANNELS:
        raise ChannelNotAllowed(raw.upper())
    raise InvalidRequest([FieldError("Channel", "must be sms, email, whatsapp or call")])


def verification_id_of(sid: str) -> str:
    """The engine id of a ``VE`` SID; a malformed SID names nothing (20404, no Redis asked)."""
    verification_id = from_sid(sid)
    if verification_id is None:
        raise VerificationNotFound("No verification has this SID.")
    g.verification_id = verification_id
    return verification_id


def branded(client: Client, friendly_name: str | None) -> Client:
    """``client`` with Twilio's ``CustomFriendlyName`` as the brand its messages name."""
    if friendly_name is None:
        return client
    return replace(client, policy=replace(client.policy, brand_name=friendly_name))
