"""
A Twilio Verify v2 compatible face over the same engine: ``/v2/Services/{ServiceSid}/...``.

Apps written against Twilio Verify switch by pointing their Twilio client at this service. HTTP
Basic with an account SID and auth token (``OTP_TWILIO_VERIFY_ACCOUNTS``) authenticates; each
service SID names one client of ``OTP_API_KEYS``, whose policy, scopes, limits and verifications it
uses. Errors under ``/v2`` are Twilio's body (``code``, ``message``, ``more_info``, ``status``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass, replace
from typing import Final, TypeVar

import pydantic
from flask import Blueprint, Response, g, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter

from otp_service.config.clients import TwilioVerifyAccount
from otp_service.core.errors import (
    ChannelNotAllowed,
    FieldError,
    Forbidden,
    InvalidRequest,
    OTPError,
    Unauthenticated,
    VerificationNotFound,
)
from otp_service.core.models import Channel, CheckResult, Client, Scope, Verification
from otp_service.verify.destinations import parse_destination
from otp_service.web.context import services
from otp_service.web.requests import end_user_ip
from otp_service.web.twilio_verify.operations import OPERATIONS as OPERATIONS
from otp_service.web.twilio_verify.schemas import (
    DISABLED_CHANNELS,
    UNSUPPORTED_PARAMETERS,
    CreateVerificationForm,
    ServiceRef,
    TwilioError,
    TwilioVerification,
    TwilioVerificationCheck,
    UnsupportedFeature,
    UpdateVerificationForm,
    VerificationCheckForm,
    from_sid,
    http_error,
    twilio_error,
)

blueprint = Blueprint("twilio_verify", __name__, url_prefix="/v2")


class _AnythingConverter(PathConverter):
    """Like ``path``, but also across line breaks (``path``'s ``.`` stops at a newline)."""

    regex = "[^/][\\s\\S]*?"


# Registered before the routes are (deferred functions run in order), so the rules can use it.
@blueprint.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters.setdefault("anything", _AnythingConverter)


logger = logging.getLogger("otp_service.web")
_Form = TypeVar("_Form", bound=pydantic.BaseModel)
REALM: Final = 'Basic realm="Twilio API"'


@dataclass(frozen=True, slots=True)
class _Caller:
    """An authenticated account, acting through one of its services (one client)."""

    client: Client
    ref: ServiceRef


# Authentication and parameters ------------------------------------------------------------------


def _account() -> TwilioVerifyAccount:
    """The account whose SID and auth token came with HTTP Basic (compared in constant time)."""
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


def _caller(service_sid: str, scope: Scope | None = None) -> _Caller:
    """
    The client that ``service_sid`` names, for the authenticated account.

    Raises:
        Unauthenticated: no or wrong credentials (401, 20003).
        VerificationNotFound: the account has no such service (404, 20404).
        Forbidden: the service's client lacks ``scope`` (403).
    """
    account = _account()
    client_name = account.services.get(service_sid)
    client = next((c for c in services().settings.api_keys if c.name == client_name), None)
    if client is None:
        raise VerificationNotFound("No such service.")
    g.client_name = client.name
    base_url = services().settings.public_base_url or request.host_url
    caller = _Caller(client, ServiceRef(account.account_sid, service_sid, base_url.rstrip("/")))
    if scope is not None:
        _require(caller, scope)
    return caller


def _require(caller: _Caller, scope: Scope) -> None:
    if scope not in caller.client.scopes:
        raise Forbidden(f"The client of this service does not have the {scope.value} scope.")


def _form(model: type[_Form]) -> _Form:
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


def _channel(raw: str) -> Channel:
    """The engine channel of Twilio's ``Channel``; Twilio's other channels are disabled here."""
    if raw in (Channel.SMS, Channel.EMAIL):
        return Channel(raw)
    if raw in DISABLED_CHANNELS:
        raise ChannelNotAllowed(raw.upper())
    raise InvalidRequest([FieldError("Channel", "must be sms or email")])


def _verification_id(sid: str) -> str:
    """The engine id of a ``VE`` SID; a malformed SID names nothing (20404, no Redis asked)."""
    verification_id = from_sid(sid)
    if verification_id is None:
        raise VerificationNotFound("No verification has this SID.")
    g.verification_id = verification_id
    return verification_id


def _branded(client: Client, friendly_name: str | None) -> Client:
    """``client`` with Twilio's ``CustomFriendlyName`` as the brand its messages name."""
    if friendly_name is None:
        return client
    return replace(client, policy=replace(client.policy, brand_name=friendly_name))


# Rendering --------------------------------------------------------------------------------------


def _json(model: pydantic.BaseModel, status: int) -> Response:
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    return response


def _verification(caller: _Caller, verification: Verification, status: int) -> Response:
    g.verification_id = verification.id
    now_ms = services().verifications.now_ms()
    cooldown = caller.client.policy.resend_cooldown_seconds
    return _json(TwilioVerification.of(verification, caller.ref, now_ms, cooldown), status)


def _error(error: TwilioError) -> Response:
    response = jsonify(error.body())
    response.status_code = error.status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    if error.status == 401:
        response.headers["WWW-Authenticate"] = REALM
    return response


# Routes -----------------------------------------------------------------------------------------


@blueprint.post("/Services/<service_sid>/Verifications")
def create_verification(service_sid: str) -> Response:
    """Start a verification, or resend the pending one of ``To`` (same SID): always 201."""
    caller = _caller(service_sid, Scope.START)
    form = _form(CreateVerificationForm)
    settings = services().settings
    destination = parse_destination(_channel(form.channel), form.to, settings.default_region)
    result = services().verifications.start(
        _branded(caller.client, form.custom_friendly_name),
        destination.channel,
        destination.to,
        form.locale,
        country=destination.country,
        ip=end_user_ip(caller.client, form.device_ip),
    )
    return _verification(caller, result.verification, 201)


@blueprint.get("/Services/<service_sid>/Verifications/<sid>")
def fetch_verification(service_sid: str, sid: str) -> Response:
    """Read a verification."""
    caller = _caller(service_sid, Scope.START)
    verification = services().verifications.get(caller.client, _verification_id(sid))
    return _verification(caller, verification, 200)


@blueprint.post("/Services/<service_sid>/Verifications/<sid>")
def update_verification(service_sid: str, sid: str) -> Response:
    """``Status=canceled`` cancels; ``Status=approved`` approves without a code (check scope)."""
    caller = _caller(service_sid)
    form = _form(UpdateVerificationForm)
    verification_id = _verification_id(sid)
    engine = services().verifications
    if form.status == "canceled":
        _require(caller, Scope.START)
        verification = engine.cancel(caller.client, verification_id)
    else:
        _require(caller, Scope.CHECK)
        verification = engine.approve_without_code(caller.client, verification_id)
    return _verification(caller, verification, 200)


@blueprint.post("/Services/<service_sid>/VerificationCheck")
def create_verification_check(service_sid: str) -> Response:
    """Check ``Code`` against the verification named by ``VerificationSid``, else by ``To``."""
    caller = _caller(service_sid, Scope.CHECK)
    result = _check(caller.client, _form(VerificationCheckForm))
    g.verification_id = result.verification_id
    engine = services().verifications
    try:
        verification: Verification | None = engine.get(caller.client, result.verification_id)
    except VerificationNotFound:  # gone between the check and this read: render what is known
        verification = None
    check = TwilioVerificationCheck.of(result, verification, caller.ref, engine.now_ms())
    return _json(check, 200)


def _check(client: Client, form: VerificationCheckForm) -> CheckResult:
    engine = services().verifications
    if form.verification_sid is not None:
        return engine.check(client, _verification_id(form.verification_sid), form.code)
    if form.to is None:
        raise InvalidRequest([FieldError("To", "To or VerificationSid is required")])
    destination = parse_destination(None, form.to, services().settings.default_region)
    return engine.check_destination(client, destination.channel, destination.to, form.code)


@blueprint.route("/<anything:resource>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown_resource(resource: str) -> Response:
    """Any other path under ``/v2``: Twilio's 20404, in Twilio's shape."""
    raise VerificationNotFound("No such resource.")


# Errors in Twilio's shape (the blueprint's handlers win over the app's problem+json ones) --------


@blueprint.errorhandler(OTPError)
def handle_otp_error(error: OTPError) -> Response:
    """A service error as Twilio's error body and code."""
    rendered = twilio_error(error, resource=request.path.removeprefix(blueprint.url_prefix or ""))
    if rendered.status >= 500:
        logger.error("%s: %s", type(error).__name__, error, exc_info=error.__cause__ or error)
    return _error(rendered)


@blueprint.errorhandler(UnsupportedFeature)
def handle_unsupported_feature(error: UnsupportedFeature) -> Response:
    """A parameter for a feature this service lacks: Twilio's 60204."""
    message = f"Service does not support this feature: {error.parameter}"
    return _error(TwilioError(403, 60204, message))


@blueprint.errorhandler(HTTPException)
def handle_http_error(error: HTTPException) -> Response:
    """A Werkzeug error raised in a view (a body over the size limit, ...)."""
    return _error(http_error(error.code or 500, error.description or error.name))


@blueprint.errorhandler(Exception)
def handle_unexpected(error: Exception) -> Response:
    """The last resort: log everything, reveal nothing."""
    logger.exception("unhandled error", exc_info=error)
    return _error(http_error(500, "Internal server error"))
