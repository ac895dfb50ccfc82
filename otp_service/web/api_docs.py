"""
The API reference page (``GET /docs``): Swagger UI rendering ``/openapi.json``.

Swagger UI's files come from the ``swagger-ui-bundle-v2`` package (installed with the service) and
are served by this app under ``/docs/assets/``, next to the page's own starter script: the page
loads nothing from another origin, and its Content-Security-Policy allows scripts only from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from flask import Blueprint, Response, abort, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from otp_service.web.openapi import Operation, problem, text
from otp_service.web.openapi.document import package_version

_TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
#: Each file the page may load, by name, with the folder it is in.
ASSETS: Final = {
    "swagger-ui-bundle.js": Path(str(swagger_ui_path)),
    "swagger-ui.css": Path(str(swagger_ui_path)),
    "favicon-32x32.png": Path(str(swagger_ui_path)),
    "docs.js": _TEMPLATES,
}
#: Swagger UI sets inline styles and uses data: images; it fetches only /openapi.json and the API.
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)

blueprint = Blueprint("api_docs", __name__, template_folder="templates")


@blueprint.get("/docs")
def docs_page() -> Response:
    """The API reference: Swagger UI on the app's OpenAPI document."""
    page = render_template("docs.html", title="otp-service", version=package_version())
    response = Response(page)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


@blueprint.get("/docs/assets/<name>")
def asset(name: str) -> Response:
    """One of the page's files; any other name is a 404."""
    if name not in ASSETS:
        abort(404)
    response = send_from_directory(ASSETS[name], name, max_age=3600)
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response


OPERATIONS: Final = (
    Operation(
        "get",
        "/docs",
        "This API reference (Swagger UI)",
        {200: text("text/html", "Swagger UI on `/openapi.json`.")},
        tags=("documentation",),
        security=(),
    ),
    Operation(
        "get",
        "/docs/assets/{name}",
        "A file of the documentation page",
        {
            200: text("*/*", "Swagger UI's script or style, the page's script, or its icon."),
            404: problem("No such file."),
        },
        tags=("documentation",),
        security=(),
        path_parameters={"name": "`swagger-ui-bundle.js`, `swagger-ui.css`, `docs.js`, ..."},
    ),
)
