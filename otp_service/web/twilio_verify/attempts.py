"""
Twilio Verify's verification attempts on ``/v2``: ``GET /v2/Attempts`` (each send of a code),
``GET /v2/Attempts/{Sid}`` and ``GET /v2/Attempts/Summary`` (conversion), over the conversion
insights. They belong to the account: every service of it whose client may read its figures
(``verifications:check`` or ``admin``), or the one ``VerifyServiceSid`` names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from otp_service.core.errors import Forbidden, OTPError, VerificationNotFound
from otp_service.core.models import Scope
from otp_service.insights import AttemptFilter
from otp_service.insights.models import HOUR_MS, hour_of
from otp_service.verify.destinations import parse_any_destination
from otp_service.web.context import services
from otp_service.web.openapi import Operation, Reply
from otp_service.web.requests import parse_query
from otp_service.web.twilio_verify import routes
from otp_service.web.twilio_verify.attempt_schemas import (
    AttemptsMeta,
    AttemptsQuery,
    SummaryQuery,
    TwilioAttempt,
    TwilioAttemptsPage,
    TwilioAttemptsSummary,
    attempt_id_of,
)
from otp_service.web.twilio_verify.errors import UnsupportedFeature
from otp_service.web.twilio_verify.operations import V2_ERRORS
from otp_service.web.twilio_verify.requests import account, base_url
from otp_service.web.twilio_verify.schemas import from_sid

blueprint = Blueprint("twilio_attempts", __name__, url_prefix="/v2")
# Errors in Twilio's shape, as on the rest of /v2.
blueprint.register_error_handler(OTPError, routes.handle_otp_error)
blueprint.register_error_handler(UnsupportedFeature, routes.handle_unsupported_feature)
blueprint.register_error_handler(HTTPException, routes.handle_http_error)
blueprint.register_error_handler(Exception, routes.handle_unexpected)
READERS: Final = frozenset({Scope.CHECK, Scope.ADMIN})


@dataclass(frozen=True, slots=True)
class _Readers:
    """The authenticated account, and the service SID of each of its clients it reads."""

    account_sid: str
    services: Mapping[str, str]  # client name → service SID

    @property
    def clients(self) -> list[str]:
        return sorted(self.services)


def _readers(service_sid: str | None) -> _Readers:
    """
    Raises:
        Unauthenticated: no or wrong credentials (20003).
        VerificationNotFound: ``service_sid`` is not one of the account's (20404).
        Forbidden: its client may not read figures (20403).
    """
    owner = account()
    if service_sid is not None and service_sid not in owner.services:
        raise VerificationNotFound("No such service.")
    scopes = {client.name: client.scopes for client in services().settings.api_keys}
    pairs = sorted(owner.services.items())
    if service_sid is not None:
        pairs = [(service_sid, owner.services[service_sid])]
    readable: dict[str, str] = {}
    for sid, name in pairs:
        if scopes.get(name, frozenset()) & READERS:
            readable.setdefault(name, sid)
    if service_sid is not None and not readable:
        raise Forbidden("The client of this service may not read its attempts.")
    return _Readers(owner.account_sid, readable)


@blueprint.get("/Attempts/Summary")
def attempts_summary() -> Response:
    """Attempts (codes sent), converted (approved) and the rate, for the filters given."""
    query = parse_query(SummaryQuery)
    readers = _readers(query.verify_service_sid)
    tally = services().insights.summary(
        readers.clients,
        *_hours(query),
        channel=query.engine_channel,
        country=query.country.upper() if query.country else None,
        prefix=query.destination_prefix,
    )
    return _json(TwilioAttemptsSummary.of(tally, base_url()))


@blueprint.get("/Attempts")
def list_attempts() -> Response:
    """A page of attempts, newest first; ``meta.next_page_url`` continues."""
    query = parse_query(AttemptsQuery)
    readers = _readers(query.verify_service_sid)
    insights = services().insights
    page = insights.attempts(readers.clients, _filter(query), query.page_size, query.page_token)
    base = base_url()
    attempts = [
        TwilioAttempt.of(attempt, readers.account_sid, readers.services.get(attempt.client), base)
        for attempt in page.attempts
    ]
    return _json(TwilioAttemptsPage(attempts=attempts, meta=_meta(query, page.next_cursor)))


@blueprint.get("/Attempts/<sid>")
def fetch_attempt(sid: str) -> Response:
    """One attempt of one of the account's services."""
    readers = _readers(None)
    attempt_id = attempt_id_of(sid)
    attempt = services().insights.attempt(readers.clients, attempt_id) if attempt_id else None
    if attempt is None:
        raise VerificationNotFound("No attempt has this SID.")
    service_sid = readers.services.get(attempt.client)
    return _json(TwilioAttempt.of(attempt, readers.account_sid, service_sid, base_url()))


def _filter(query: AttemptsQuery) -> AttemptFilter:
    insights = services().insights
    verification_id = from_sid(query.verification_sid) if query.verification_sid else None
    to_digest = None
    if query.to is not None:
        to = parse_any_destination(query.to, services().settings.default_region).to
        to_digest = services().store.destination_digest(to)
    return AttemptFilter(
        after_ms=_ms(query.date_created_after) or 0,
        before_ms=_ms(query.date_created_before) or insights.now_ms() + 1,
        channel=query.engine_channel,
        country=query.country.upper() if query.country else None,
        verification_id=verification_id,
        to_digest=to_digest,
        is_converted=None if query.status is None else query.status == "converted",
    )


def _hours(query: SummaryQuery) -> tuple[int, int]:
    """The summary's window: by default every hour kept, the current one included."""
    end_of_hour = (hour_of(services().insights.now_ms()) + 1) * HOUR_MS
    return _ms(query.date_created_after) or 0, _ms(query.date_created_before) or end_of_hour


def _meta(query: AttemptsQuery, next_cursor: str | None) -> AttemptsMeta:
    """Twilio's paging block of this page; the next page's URL carries ``next_cursor``."""
    size = query.page_size
    return AttemptsMeta(
        page=query.page,
        page_size=size,
        first_page_url=_page_url(size, 0),
        previous_page_url=None,
        url=_page_url(size, query.page, query.page_token),
        next_page_url=_page_url(size, query.page + 1, next_cursor) if next_cursor else None,
    )


def _page_url(page_size: int, page: int, token: str | None = None) -> str:
    """This listing's URL with its filters, at another page."""
    paging = {"PageSize", "Page", "PageToken"}
    parameters = [(k, v) for k, v in request.args.items(multi=True) if k not in paging]
    parameters += [("PageSize", str(page_size)), ("Page", str(page))]
    if token:
        parameters.append(("PageToken", token))
    return f"{base_url()}/v2/Attempts?{urlencode(parameters)}"


def _ms(value: Any) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def _json(model: Any) -> Response:
    return jsonify(model.model_dump(mode="json"))


def _v2(path: str, summary: str, reply: Reply, **extra: Any) -> Operation:
    return Operation(
        "get",
        path,
        summary,
        {200: reply, **V2_ERRORS},
        tags=("twilio-verify",),
        security=("twilioAccount",),
        **extra,
    )


OPERATIONS: Final = (
    _v2(
        "/v2/Attempts/Summary",
        "Summarise verification attempts (Twilio Verify)",
        Reply("Attempts are codes sent; converted ones approved.", TwilioAttemptsSummary),
        query=SummaryQuery,
        description="Over the hourly conversion counters: the dates are taken to the hour.",
    ),
    _v2(
        "/v2/Attempts",
        "List verification attempts (Twilio Verify)",
        Reply("One page, newest first.", TwilioAttemptsPage),
        query=AttemptsQuery,
        description="Each send of a code, kept `OTP_INSIGHTS_ATTEMPT_DAYS` (30) days.",
    ),
    _v2(
        "/v2/Attempts/{sid}",
        "Fetch a verification attempt (Twilio Verify)",
        Reply("The attempt.", TwilioAttempt),
        path_parameters={"sid": "An attempt SID: `VL` and 32 hex digits."},
    ),
)
