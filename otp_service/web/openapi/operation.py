"""
What a blueprint says about its routes: ``Operation`` and ``Reply``, the ``Problem`` body, the
security schemes, and the responses many routes share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field

from otp_service.web.problems import PROBLEM_MEDIA_TYPE

REF_TEMPLATE: Final = "#/components/schemas/{model}"
API_KEY: Final = "apiKey"
#: The ways to authenticate an operation may name in ``Operation.security``.
SECURITY_SCHEMES: Final = {
    API_KEY: {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key made by `otp-service keys new` (`OTP_API_KEYS`).",
    },
    "twilioAccount": {
        "type": "http",
        "scheme": "basic",
        "description": "An account SID and auth token of `OTP_TWILIO_VERIFY_ACCOUNTS`.",
    },
    "twilioSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Twilio-Signature",
        "description": "Twilio's signature of the public URL and form, with the auth token.",
    },
}


@dataclass(frozen=True, slots=True)
class Reply:
    """
    One documented response: a JSON ``model``; or a body of ``media_type`` described by
    ``schema``; or neither, for no body.
    """

    description: str
    model: type[BaseModel] | None = None
    media_type: str = "application/json"
    schema: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    """
    One route as the document shows it.

    Args:
        method: lower case, as OpenAPI writes it (``get``, ``post``, ``delete``).
        path: the OpenAPI template (``/v1/verifications/{verification_id}``).
        responses: status → a response model (described by its HTTP phrase) or a ``Reply``.
        request: the model of the body, when the route takes one, sent as ``request_media_type``.
        query: the model of the query string's parameters, when the route reads any.
        security: names of ``SECURITY_SCHEMES``, any one of which is accepted; none: public.
    """

    method: str
    path: str
    summary: str
    responses: Mapping[int, type[BaseModel] | Reply]
    request: type[BaseModel] | None = None
    request_media_type: str = "application/json"
    description: str = ""
    tags: tuple[str, ...] = ()
    security: tuple[str, ...] = (API_KEY,)
    path_parameters: Mapping[str, str] = field(default_factory=dict)
    #: Optional request headers the route reads: name → the parameter object's other members.
    header_parameters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: The model of the query string, when the route reads one (each field a parameter).
    query: type[BaseModel] | None = None


class FieldProblem(BaseModel):
    """One invalid field of a request."""

    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details; the extension members appear where they apply."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="`/problems/<slug>`: see the table of problem types.")
    title: str
    status: int
    detail: str
    instance: str | None = Field(None, description="The path of the request.")
    request_id: str | None = Field(None, description="The request's `X-Request-ID`.")
    errors: list[FieldProblem] | None = Field(None, description="What is invalid (422).")
    retry_after: int | None = Field(None, description="Seconds to wait, as `Retry-After`.")
    attempts_remaining: int | None = None
    retryable: bool | None = Field(None, description="Whether a later delivery may work (502).")
    limit: str | None = Field(None, description="The rate limit that tripped (429).")
    reason: str | None = Field(
        None, description="Why the owner's verification can no longer be checked (404)."
    )


def problem(description: str) -> Reply:
    """An ``application/problem+json`` response."""
    return Reply(description, Problem, PROBLEM_MEDIA_TYPE)


def text(media_type: str, description: str) -> Reply:
    """A response whose body is text of ``media_type`` (a page, Prometheus samples)."""
    return Reply(description, media_type=media_type, schema={"type": "string"})


Responses = dict[int, type[BaseModel] | Reply]
BODY: Final[Responses] = {
    400: problem("The body is not a JSON object (`malformed-body`)."),
    413: problem("The body is over 16 KiB (`payload-too-large`)."),
    415: problem("The body is not `application/json` (`unsupported-media-type`)."),
}
STORE: Final[Responses] = {503: problem("Redis failed: nothing is approved (`store-unavailable`).")}


def key_problems(scope: str) -> Responses:
    return {
        401: problem("No API key, or one that is not known (`unauthorized`)."),
        403: problem(f"The API key lacks the `{scope}` scope (`forbidden`)."),
    }
