"""
A Twilio Verify v2 compatible face over the same engine: ``/v2/Services/{ServiceSid}/...``.

Apps written against Twilio Verify switch by pointing their Twilio client at this service. HTTP
Basic with an account SID and auth token (``OTP_TWILIO_VERIFY_ACCOUNTS``) authenticates; each
service SID names one client of ``OTP_API_KEYS``, whose policy, scopes, limits and verifications it
uses. Errors under ``/v2`` are Twilio's body (``code``, ``message``, ``more_info``, ``status``).
"""

from __future__ import annotations

import logging
from typing import Final

import pydantic
from flask import Blueprint, Response, g, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException
from werkzeug.routing import PathConverter

from otp_service.core.errors import (
    FieldError,
    InvalidRequest,
    OTPError,
    VerificationNotFound,
)
from otp_service.core.models import CheckResult, Client, Scope, Verification
from otp_service.verify.destinations import parse_any_destination, parse_destination
from otp_service.web.context import services
from otp_service.web.requests import end_user_ip
from otp_service.web.twilio_verify.errors import (
    TwilioError,
    UnsupportedFeature,
    http_error,
    twilio_error,
)
from otp_service.web.twilio_verify.operations import OPERATIONS as OPERATIONS
from otp_service.web.twilio_verify.requests import (
    Caller,
    branded,
    caller_of,
    engine_channel,
    parse_form,
    require_scope,
    verification_id_of,
)
from otp_service.web.twilio_verify.schemas import (
    CreateVerificationForm,
    TwilioVerification,
    TwilioVerificationCheck,
    UpdateVerificationForm,
    VerificationCheckForm,
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
REALM: Final = 'Basic realm="Twilio API"'


# Rendering --------------------------------------------------------------------------------------


def _json(model: pydantic.BaseModel, status: int) -> Response:
    response = jsonify(model.model_dump(mode="json"))
    response.status_code = status
    return response


def _verification(caller: Caller, verification: Verification, status: int) -> Response:
    g.verification_id = verification.id
    now_ms = services().verifications.now_ms()
    return _json(TwilioVerification.of(verification, caller.ref, now_ms), status)


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
    caller = caller_of(service_sid, Scope.START)
    form = parse_form(CreateVerificationForm)
    settings = services().settings
    destination = parse_destination(engine_channel(form.channel), form.to, settings.default_region)
    result = services().verifications.start(
        branded(caller.client, form.custom_friendly_name),
        destination.channel,
        destination.to,
        form.locale,
        country=destination.country,
        ip=end_user_ip(caller.client, form.device_ip),
        transaction=form.transaction,
    )
    return _verification(caller, result.verification, 201)


@blueprint.get("/Services/<service_sid>/Verifications/<sid>")
def fetch_verification(service_sid: str, sid: str) -> Response:
    """Read a verification."""
    caller = caller_of(service_sid, Scope.START)
    verification = services().verifications.get(caller.client, verification_id_of(sid))
    return _verification(caller, verification, 200)


@blueprint.post("/Services/<service_sid>/Verifications/<sid>")
def update_verification(service_sid: str, sid: str) -> Response:
    """``Status=canceled`` cancels; ``Status=approved`` approves without a code (check scope)."""
    caller = caller_of(service_sid)
    form = parse_form(UpdateVerificationForm)
    verification_id = verification_id_of(sid)
    engine = services().verifications
    if form.status == "canceled":
        require_scope(caller, Scope.START)
        verification = engine.cancel(caller.client, verification_id)
    else:
        require_scope(caller, Scope.CHECK)
        verification = engine.approve_without_code(caller.client, verification_id)
    return _verification(caller, verification, 200)


@blueprint.post("/Services/<service_sid>/VerificationCheck")
def create_verification_check(service_sid: str) -> Response:
    """Check ``Code`` against the verification named by ``VerificationSid``, else by ``To``."""
    caller = caller_of(service_sid, Scope.CHECK)
    result = _check(caller.client, parse_form(VerificationCheckForm))
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
        verification_id = verification_id_of(form.verification_sid)
        return engine.check(client, verification_id, form.code, form.transaction)
    if form.to is None:
        raise InvalidRequest([FieldError("To", "To or VerificationSid is required")])
    destination = parse_any_destination(form.to, services().settings.default_region)
    return engine.check_destination(client, None, destination.to, form.code, form.transaction)


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
