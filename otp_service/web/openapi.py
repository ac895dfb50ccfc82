"""
The OpenAPI 3.1 document, generated from the code (``GET /openapi.json``); ``web/api_docs.py``
shows it as a page (``GET /docs``).

Each blueprint's module lists the operations of its routes as ``OPERATIONS`` (method, path,
summary, request model, responses by status, security); this module collects them from the app's
blueprints, keeps those whose route the app has (the dev pages appear in development only), and
builds ``components.schemas`` with pydantic from the very models the views validate and render.
``undocumented_routes`` names every route no operation documents; a test keeps it empty.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from importlib import metadata
from typing import Any, Final, Literal

from flask import Blueprint, Flask, Response, current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from otp_service.web.problems import HTTP_SLUGS, PROBLEM_MEDIA_TYPE, PROBLEMS, problem_type

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
_DOCUMENT_KEY: Final = "otp_service.openapi"
_RULE_ARGUMENT: Final = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")
_SchemaKey = tuple[type[BaseModel], Literal["validation", "serialization"]]


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


def problem(description: str) -> Reply:
    """An ``application/problem+json`` response."""
    return Reply(description, Problem, PROBLEM_MEDIA_TYPE)


def text(media_type: str, description: str) -> Reply:
    """A response whose body is text of ``media_type`` (a page, Prometheus samples)."""
    return Reply(description, media_type=media_type, schema={"type": "string"})


def openapi_path(rule: str) -> str:
    """A Werkzeug rule (``/v1/<id>``, ``/<int:n>``) as an OpenAPI path template (``/v1/{id}``)."""
    return _RULE_ARGUMENT.sub(r"{\1}", rule)


def app_routes(app: Flask) -> dict[tuple[str, str], str]:
    """Each (method, OpenAPI path) ``app`` answers, with its endpoint; not HEAD, OPTIONS, static."""
    routes: dict[tuple[str, str], str] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint != "static":
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                routes[method.lower(), openapi_path(rule.rule)] = rule.endpoint
    return routes


def collect_operations(app: Flask) -> list[Operation]:
    """
    The ``OPERATIONS`` of every registered blueprint's module, in registration order, then those
    ``web/operations.py`` lists for modules that list none.

    Raises:
        ValueError: two modules document the same method and path.
    """
    from otp_service.web import operations as documented_elsewhere  # it imports this module

    names = [blueprint.import_name for blueprint in app.blueprints.values()]
    owners: dict[tuple[str, str], str] = {}
    operations: list[Operation] = []
    for name in dict.fromkeys([*names, documented_elsewhere.__name__]):
        for operation in getattr(sys.modules.get(name), "OPERATIONS", ()):
            key = (operation.method, operation.path)
            if key in owners:
                raise ValueError(f"{key} is documented by both {owners[key]} and {name}")
            owners[key] = name
            operations.append(operation)
    return operations


def undocumented_routes(app: Flask) -> list[str]:
    """The routes of ``app`` no ``Operation`` documents, as ``METHOD /path (endpoint)``."""
    documented = {(op.method, op.path) for op in collect_operations(app)}
    return [
        f"{method.upper()} {path} ({endpoint})"
        for (method, path), endpoint in sorted(app_routes(app).items())
        if (method, path) not in documented
    ]


def build_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the routes ``app`` has."""
    routes = app_routes(app)
    operations = [op for op in collect_operations(app) if (op.method, op.path) in routes]
    refs, schemas = _schemas(operations)
    # The operationId is the endpoint, and the method too when one endpoint serves several.
    served = Counter(routes[op.method, op.path] for op in operations)
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        endpoint = routes[op.method, op.path]
        operation_id = endpoint if served[endpoint] == 1 else f"{endpoint}.{op.method}"
        paths.setdefault(op.path, {})[op.method] = _operation(op, operation_id, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "otp-service",
            "version": package_version(),
            "summary": "One-time codes by SMS and email, and TOTP factors, on Redis.",
            "description": _description(),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": SECURITY_SCHEMES,
            "headers": {
                "RequestId": {
                    "description": "The caller's `X-Request-ID`, or a new one.",
                    "schema": {"type": "string"},
                },
                "RetryAfter": {
                    "description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer"},
                },
            },
        },
    }


def _schemas(operations: Iterable[Operation]) -> tuple[dict[Any, Any], dict[str, Any]]:
    wanted: set[_SchemaKey] = {(Problem, "serialization")}
    for op in operations:
        if op.request is not None:
            wanted.add((op.request, "validation"))
        for reply in op.responses.values():
            model = reply if isinstance(reply, type) else reply.model
            if model is not None:
                wanted.add((model, "serialization"))
    ordered = sorted(wanted, key=lambda key: (key[0].__name__, key[1]))
    refs, top = models_json_schema(ordered, ref_template=REF_TEMPLATE)
    return dict(refs), dict(sorted(top.get("$defs", {}).items()))


def _operation(op: Operation, operation_id: str, refs: Mapping[Any, Any]) -> dict[str, Any]:
    document: dict[str, Any] = {"operationId": operation_id, "summary": op.summary}
    if op.description:
        document["description"] = op.description
    if op.tags:
        document["tags"] = list(op.tags)
    document["parameters"] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": op.path_parameters.get(name, name),
            "schema": {"type": "string"},
        }
        for name in re.findall(r"{([^{}]+)}", op.path)
    ] + [{"name": "X-Request-ID", "in": "header", "required": False, "schema": {"type": "string"}}]
    if op.request is not None:
        schema = refs[op.request, "validation"]
        content = {op.request_media_type: {"schema": schema}}
        document["requestBody"] = {"required": True, "content": content}
    document["responses"] = {
        str(status): _response(status, op.responses[status], refs)
        for status in sorted(op.responses)
    }
    document["security"] = [{name: []} for name in op.security]
    return document


def _response(
    status: int, spec: type[BaseModel] | Reply, refs: Mapping[Any, Any]
) -> dict[str, Any]:
    reply = spec if isinstance(spec, Reply) else Reply(HTTPStatus(status).phrase, spec)
    headers: dict[str, Any] = {"X-Request-ID": {"$ref": "#/components/headers/RequestId"}}
    if status in (429, 503):
        headers["Retry-After"] = {"$ref": "#/components/headers/RetryAfter"}
    document: dict[str, Any] = {"description": reply.description, "headers": headers}
    schema = refs[reply.model, "serialization"] if reply.model is not None else reply.schema
    if schema is not None:
        document["content"] = {reply.media_type: {"schema": dict(schema)}}
    return document


def package_version() -> str:
    try:
        return metadata.version("otp-service")
    except metadata.PackageNotFoundError:
        return "0.0.0"


def _description() -> str:
    rows = sorted(
        {(status, slug, title) for status, slug, title in PROBLEMS.values()}
        | {(status, slug, HTTPStatus(status).phrase) for status, slug in HTTP_SLUGS.items()}
    )
    table = "\n".join(
        f"| {status} | `{problem_type(slug)}` | {title} |" for status, slug, title in rows
    )
    return (
        "Every `/v1` call needs `Authorization: Bearer <api key>`. Bodies are JSON objects of at "
        "most 16 KiB; codes travel only in POST bodies. Every response carries `X-Request-ID`. "
        "Errors are RFC 9457 `application/problem+json`; 429 and 503 also send `Retry-After`.\n\n"
        "| status | problem type | title |\n| --- | --- | --- |\n" + table
    )


def document(app: Flask) -> dict[str, Any]:
    """The app's document, built on first use (an app's routes do not change once it serves)."""
    if _DOCUMENT_KEY not in app.extensions:
        app.extensions[_DOCUMENT_KEY] = build_document(app)
    return dict(app.extensions[_DOCUMENT_KEY])


blueprint = Blueprint("openapi", __name__)


@blueprint.get("/openapi.json")
def openapi_json() -> Response:
    """The OpenAPI 3.1 document."""
    return jsonify(document(current_app))


OPERATIONS: Final = (
    Operation(
        "get",
        "/openapi.json",
        "This document",
        {200: Reply("The OpenAPI 3.1 document.", schema={"type": "object"})},
        tags=("documentation",),
        security=(),
    ),
)
