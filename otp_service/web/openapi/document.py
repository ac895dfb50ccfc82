"""
The OpenAPI 3.1 document, generated from the code (``GET /openapi.json``); ``web/api_docs.py``
shows it as a page (``GET /docs``).

Each blueprint's module lists the operations of its routes as ``OPERATIONS`` (method, path,
summary, request model, responses by status, security); this module only collects them from the
app's blueprints, keeps those whose route the app has (the dev pages appear in development only),
and builds ``components.schemas`` with pydantic from the very models the views validate and render.
``undocumented_routes`` names every route no operation documents; a test keeps it empty.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from importlib import metadata
from typing import Any, Final, Literal

from flask import Blueprint, Flask, Response, current_app, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from otp_service.web.openapi.operation import (
    REF_TEMPLATE,
    SECURITY_SCHEMES,
    Operation,
    Problem,
    Reply,
)
from otp_service.web.problems import HTTP_SLUGS, PROBLEMS, problem_type

_DOCUMENT_KEY: Final = "otp_service.openapi"
_RULE_ARGUMENT: Final = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")
_SchemaKey = tuple[type[BaseModel], Literal["validation", "serialization"]]


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
    The ``OPERATIONS`` of every registered blueprint's module, in registration order.

    Raises:
        ValueError: two modules document the same method and path.
    """
    owners: dict[tuple[str, str], str] = {}
    operations: list[Operation] = []
    for blueprint in app.blueprints.values():
        name = blueprint.import_name
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
    document["parameters"] += [
        {"name": name, "in": "header", "required": False, **parameter}
        for name, parameter in op.header_parameters.items()
    ]
    if op.query is not None:
        document["parameters"] += query_parameters(op.query)
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


def query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The query parameters of a model: each field (by its alias), with its schema."""
    schema = model.model_json_schema(by_alias=True)
    required = set(schema.get("required", ()))
    parameters = []
    for name, field_schema in schema["properties"].items():
        described = {key: value for key, value in field_schema.items() if key != "title"}
        parameter = {"name": name, "in": "query", "required": name in required}
        if "description" in described:
            parameter["description"] = described.pop("description")
        parameters.append({**parameter, "schema": described})
    return parameters


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
