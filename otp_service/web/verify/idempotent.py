"""
``Idempotency-Key`` on ``POST /v1/verifications``: the header read, the answer kept or replayed
(``otp_service/verify/idempotency.py`` has the rules).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

import pydantic
from flask import Response, g, request

from otp_service.core.models import Client
from otp_service.verify.idempotency import HEADER, Answer, parse_key
from otp_service.web.context import services

#: Stripe's header on an answer that was replayed rather than worked out again.
REPLAYED_HEADER: Final = "Idempotent-Replayed"


def idempotent(client: Client, body: pydantic.BaseModel, work: Callable[[], Response]) -> Response:
    """``work``'s response, worked out once per ``Idempotency-Key`` (when the request has one)."""
    raw = request.headers.get(HEADER)
    if raw is None:
        return work()
    key = parse_key(raw)
    answer = services().idempotency.run(
        client.name, key, body.model_dump_json(), lambda: _answer(work())
    )
    response = Response(answer.body, status=answer.status, mimetype="application/json")
    if answer.replayed:
        response.headers[REPLAYED_HEADER] = "true"
        g.verification_id = json.loads(answer.body).get("id")
    return response


def _answer(response: Response) -> Answer:
    return Answer(response.status_code, response.get_data(as_text=True))
