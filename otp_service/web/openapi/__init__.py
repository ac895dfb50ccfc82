"""
OpenAPI: each blueprint declares its ``Operation``s next to its routes (``operation.py`` has the
vocabulary); ``document.py`` only assembles them into ``/openapi.json``.
"""

from __future__ import annotations

from otp_service.web.openapi.operation import (
    API_KEY,
    BODY,
    STORE,
    Operation,
    Problem,
    Reply,
    Responses,
    key_problems,
    problem,
    text,
)

__all__ = [
    "API_KEY",
    "BODY",
    "STORE",
    "Operation",
    "Problem",
    "Reply",
    "Responses",
    "key_problems",
    "problem",
    "text",
]
