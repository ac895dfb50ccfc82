"""
The OpenAPI document: every route is in it, it is valid OpenAPI 3.1 / JSON Schema 2020-12, and
every response status it documents for the /v1 verification routes really occurs, with the body
it documents.
"""

from __future__ import annotations

import json
import re
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, cast

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator  # type: ignore[import-untyped]
from werkzeug.test import TestResponse

from otp_service import create_app
from otp_service.config.settings import Settings
from otp_service.core.errors import DeliveryFailed
from otp_service.core.models import Channel, key_name_key
from otp_service.verify import IdempotencyStore
from otp_service.verify.idempotency import RETENTION, fingerprint
from otp_service.web.openapi import Operation, text
from otp_service.web.openapi.document import app_routes, collect_operations, undocumented_routes
from otp_service.web.verify.schemas import StartVerificationRequest
from tests.support import PHONE, Api, CapturingSender, FakeClock, auth

UNKNOWN_ID = "vf_" + "0" * 32
VERIFICATION_ROUTES = ("/v1/verifications", "/v1/verification-checks")


@pytest.fixture(name="document")
def _document(http: FlaskClient) -> dict[str, Any]:
    response = http.get("/openapi.json")
    assert 200 == response.status_code
    body: dict[str, Any] = response.get_json()
    return body


def test_every_route_is_documented(app: Flask) -> None:
    """Each route of the app (development, so the dev pages too) has an Operation."""
    missing = undocumented_routes(app)
    assert not missing, (
        "routes missing from the OpenAPI document: add an Operation to the OPERATIONS of the "
        "route's module (see otp_service/web/openapi.py):\n  " + "\n  ".join(missing)
    )


def test_every_operation_has_a_route(app: Flask) -> None:
    """No Operation documents a route that does not exist (a stale entry)."""
    routes = app_routes(app)
    stale = [
        (op.method, op.path) for op in collect_operations(app) if (op.method, op.path) not in routes
    ]
    assert [] == stale


def test_the_document_lists_every_route(app: Flask, document: dict[str, Any]) -> None:
    """The served document has exactly the app's routes."""
    served = {(method, path) for path, item in document["paths"].items() for method in item}
    assert set(app_routes(app)) == served


def test_production_leaves_the_dev_pages_out(
    settings: Settings, sender: CapturingSender, document: dict[str, Any]
) -> None:
    """The document of a production app has no dev page; the development one has them."""
    production = create_app(replace(settings, env="production"), senders={Channel.SMS: sender})
    paths = set(production.test_client().get("/openapi.json").get_json()["paths"])
    assert {"/try", "/dev/outbox", "/dev/outbox.json"} <= set(document["paths"])
    assert set() == paths & {"/try", "/dev/outbox", "/dev/outbox.json"}
    assert [] == undocumented_routes(production)


def test_the_document_is_openapi_3_1(document: dict[str, Any]) -> None:
    """OpenAPI 3.1.0, every schema valid JSON Schema 2020-12, every $ref resolvable."""
    assert "3.1.0" == document["openapi"]
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    unresolved = [ref for ref in _refs(document) if _resolve(document, ref) is None]
    assert [] == unresolved


def test_operation_ids_are_unique(document: dict[str, Any]) -> None:
    """Each operation has its own operationId (the Flask endpoint)."""
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_the_v1_api_needs_a_key_and_health_does_not(document: dict[str, Any]) -> None:
    """/v1 operations declare the bearer scheme; probes and metrics declare none."""
    paths = document["paths"]
    assert [{"apiKey": []}] == paths["/v1/verifications"]["post"]["security"]
    assert [] == paths["/readyz"]["get"]["security"]
    assert [] == paths["/metrics"]["get"]["security"]


def test_the_docs_page_loads_swagger_ui_from_this_app_only(http: FlaskClient) -> None:
    """/docs: Swagger UI's files served by the app itself, no inline script, a strict CSP."""
    response = http.get("/docs")
    page = response.get_data(as_text=True)
    sources = re.findall(r'<script src="([^"]+)"></script>', page)
    assert (200, "text/html") == (response.status_code, response.mimetype)
    assert ["/docs/assets/swagger-ui-bundle.js", "/docs/assets/docs.js"] == sources
    assert page.count("<script") == len(sources)  # nothing inline
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    for source in [*sources, "/docs/assets/swagger-ui.css"]:
        with http.get(source) as asset:
            assert (200, True) == (asset.status_code, len(asset.get_data()) > 100), source


def test_the_docs_page_serves_no_other_file(http: FlaskClient) -> None:
    """Only the listed assets are served: other names, and paths, are 404."""
    for name in ("index.html", "swagger-ui-bundle.js.map", "..%2f__init__.py"):
        assert 404 == http.get(f"/docs/assets/{name}").status_code, name


def test_a_route_documented_twice_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two modules documenting one method and path make collecting fail, naming both."""
    app = Flask("twice")
    operation = Operation("get", "/x", "X", {200: text("text/plain", "x")})
    for name in ("fake_one", "fake_two"):
        module = types.ModuleType(name)
        module.OPERATIONS = (operation,)  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, name, module)
        app.register_blueprint(Blueprint(name, name))
    with pytest.raises(ValueError, match="fake_one and fake_two"):
        collect_operations(app)


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return node


# Every documented status of the /v1 verification routes, and a request that produces it -------


@dataclass
class World:
    """What a scenario may use: the API on a working Redis, a client of a dead one, the clock."""

    api: Api
    down: FlaskClient
    clock: FakeClock

    def started(self) -> tuple[str, str]:
        """A fresh verification (its own destination) and its code."""
        to = f"+1415555{len(self.api.sender.sent):04d}"
        return self.api.started(to)

    def send(
        self, method: str, path: str, client: str | None = "acme", **kwargs: Any
    ) -> TestResponse:
        """A request to ``path`` (``{verification_id}`` filled with a fresh one)."""
        if "{verification_id}" in path:
            path = path.replace("{verification_id}", self.started()[0])
        headers = auth(client) if client else {}
        return self.api.http.open(path, method=method.upper(), headers=headers, **kwargs)


def _valid_body(path: str) -> dict[str, str] | None:
    if path == "/v1/verifications":
        return {"to": PHONE, "channel": "sms"}
    if path.endswith("/check"):
        return {"code": "123456"}
    if path == "/v1/verification-checks":
        return {"to": PHONE, "channel": "sms", "code": "123456"}
    return None


def _lacking_scope(path: str) -> str:
    return "starter" if "check" in path else "checker"


Scenario = Callable[[World, str, str], TestResponse]
GENERIC: dict[int, Scenario] = {
    400: lambda w, method, path: w.send(method, path, data="{", content_type="application/json"),
    401: lambda w, method, path: w.send(method, path, client=None, json=_valid_body(path)),
    403: lambda w, method, path: w.send(method, path, _lacking_scope(path), json=_valid_body(path)),
    413: lambda w, method, path: w.send(method, path, json={"code": "1" * 17_000}),
    415: lambda w, method, path: w.send(method, path, data="code=1", content_type="text/plain"),
    503: lambda w, method, path: w.down.open(
        path.replace("{verification_id}", UNKNOWN_ID),
        method=method.upper(),
        headers=auth(),
        json=_valid_body(path),
    ),
}


def _resent(w: World) -> TestResponse:
    w.api.start("+14155550900")
    w.clock.advance(31)
    return cast(TestResponse, w.api.start("+14155550900"))


def _failed_delivery(w: World) -> TestResponse:
    w.api.sender.failure = DeliveryFailed("provider down", retryable=True)
    return cast(TestResponse, w.api.start("+14155550901"))


def _key_in_progress(w: World) -> TestResponse:
    """A start whose Idempotency-Key another request holds (it waits 2 s, then 409)."""
    services = w.api.http.application.extensions["otp_service"]
    keys = IdempotencyStore(
        services.store.client,
        services.settings.redis_prefix,
        name_key=key_name_key(services.settings.pepper),
        retention=RETENTION,
    )
    body = {"to": "+14155550903", "channel": "sms"}
    canonical = StartVerificationRequest.model_validate(body).model_dump_json()
    keys.begin("acme", "held", fingerprint(canonical), "another-request", 0)
    headers = {**auth(), "Idempotency-Key": "held"}
    return w.api.http.post("/v1/verifications", json=body, headers=headers)


def _locked(w: World, check: Callable[[str, str], TestResponse]) -> TestResponse:
    verification_id, code = w.started()
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert 200 == check(verification_id, wrong).status_code
    return check(verification_id, wrong)


def _by_destination(w: World, code: str) -> TestResponse:
    body = {"to": w.api.sender.sent[-1].to, "channel": "sms", "code": code}
    return w.api.http.post("/v1/verification-checks", json=body, headers=auth())


def _right_by_destination(w: World) -> TestResponse:
    _, code = w.started()
    return _by_destination(w, code)


def _locked_by_destination(w: World) -> TestResponse:
    return _locked(w, lambda _, wrong: _by_destination(w, wrong))


def _check(w: World, verification_id: str, code: str) -> TestResponse:
    return cast(TestResponse, w.api.check(verification_id, code))


SPECIFIC: dict[tuple[str, str, int], Callable[[World], TestResponse]] = {
    ("post", "/v1/verifications", 201): lambda w: w.api.start("+14155550902"),
    ("post", "/v1/verifications", 200): _resent,
    ("post", "/v1/verifications", 409): _key_in_progress,
    ("post", "/v1/verifications", 422): lambda w: w.api.start("+1"),
    ("post", "/v1/verifications", 429): lambda w: (w.api.start(PHONE), w.api.start(PHONE))[1],
    ("post", "/v1/verifications", 502): _failed_delivery,
    ("post", "/v1/verifications/{verification_id}/check", 200): lambda w: _check(
        w, w.started()[0], "000000"
    ),
    ("post", "/v1/verifications/{verification_id}/check", 404): lambda w: _check(
        w, UNKNOWN_ID, "123456"
    ),
    ("post", "/v1/verifications/{verification_id}/check", 422): lambda w: _check(
        w, w.started()[0], "12"
    ),
    ("post", "/v1/verifications/{verification_id}/check", 429): lambda w: _locked(w, w.api.check),
    ("post", "/v1/verification-checks", 200): _right_by_destination,
    ("post", "/v1/verification-checks", 404): lambda w: w.api.http.post(
        "/v1/verification-checks",
        json={"to": "+14155550999", "channel": "sms", "code": "123456"},
        headers=auth(),
    ),
    ("post", "/v1/verification-checks", 422): lambda w: w.api.http.post(
        "/v1/verification-checks", json={"to": PHONE, "code": "12"}, headers=auth()
    ),
    ("post", "/v1/verification-checks", 429): _locked_by_destination,
    ("get", "/v1/verifications/{verification_id}", 200): lambda w: w.send(
        "get", "/v1/verifications/{verification_id}"
    ),
    ("get", "/v1/verifications/{verification_id}", 404): lambda w: w.api.http.get(
        f"/v1/verifications/{UNKNOWN_ID}", headers=auth()
    ),
    ("post", "/v1/verifications/{verification_id}/cancel", 200): lambda w: w.send(
        "post", "/v1/verifications/{verification_id}/cancel"
    ),
    ("post", "/v1/verifications/{verification_id}/cancel", 404): lambda w: w.api.http.post(
        f"/v1/verifications/{UNKNOWN_ID}/cancel", headers=auth()
    ),
}


def _documented_statuses(document: dict[str, Any]) -> list[tuple[str, str, int]]:
    return sorted(
        (method, path, int(status))
        for path, item in document["paths"].items()
        if path.startswith(VERIFICATION_ROUTES)
        for method, operation in item.items()
        for status in operation["responses"]
    )


def _scenario(method: str, path: str, status: int) -> Callable[[World], TestResponse] | None:
    if (method, path, status) in SPECIFIC:
        return SPECIFIC[method, path, status]
    generic = GENERIC.get(status)
    return None if generic is None else lambda w: generic(w, method, path)


def test_every_documented_status_has_a_scenario(document: dict[str, Any]) -> None:
    """Each status documented for a /v1 verification route has a request below that makes it."""
    statuses = _documented_statuses(document)
    assert len(statuses) > 40
    assert [] == [key for key in statuses if _scenario(*key) is None]


def _all_statuses() -> list[tuple[str, str, int]]:
    from otp_service.web.verify.operations import OPERATIONS

    return sorted(
        (op.method, op.path, status)
        for op in OPERATIONS
        if op.path.startswith(VERIFICATION_ROUTES)
        for status in op.responses
    )


@pytest.mark.parametrize(
    ("method", "path", "status"), _all_statuses(), ids=lambda value: str(value)
)
def test_a_documented_status_occurs_as_documented(
    api: Api,
    down_http: FlaskClient,
    clock: FakeClock,
    document: dict[str, Any],
    method: str,
    path: str,
    status: int,
) -> None:
    """The request of this status gets it, with the documented media type and body schema."""
    scenario = _scenario(method, path, status)
    assert scenario is not None
    response = scenario(World(api, down_http, clock))
    assert status == response.status_code, response.get_data(as_text=True)
    [(media_type, content)] = document["paths"][path][method]["responses"][str(status)][
        "content"
    ].items()
    assert media_type == response.mimetype
    schema = {**content["schema"], "components": document["components"]}
    errors = [
        error.message for error in Draft202012Validator(schema).iter_errors(response.get_json())
    ]
    assert [] == errors, json.dumps(response.get_json())
