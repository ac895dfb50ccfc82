"""
The ``/v1/fraud`` routes (scope ``admin``): the pumping guard's blocks are the service's, not one
client's, so an admin of any client reads them and may end one; every end is audited.
"""

from __future__ import annotations

from flask import Blueprint, Response

from otp_service.core.errors import FieldError, FraudBlockNotFound, InvalidRequest
from otp_service.core.models import Scope
from otp_service.fraud import calling_code_of
from otp_service.web.context import services
from otp_service.web.fraud.operations import OPERATIONS as OPERATIONS
from otp_service.web.fraud.schemas import BlockListResponse, BlockResponse
from otp_service.web.requests import authenticate, render

blueprint = Blueprint("fraud", __name__, url_prefix="/v1/fraud")


@blueprint.get("/blocks")
def list_blocks() -> Response:
    """The active blocks, enforced and monitored."""
    authenticate(Scope.ADMIN)
    guard = services().fraud
    blocks = [BlockResponse.of(block) for block in guard.blocks()]
    return render(BlockListResponse(mode=guard.mode.value, blocks=blocks))


@blueprint.delete("/blocks/<path:prefix>")
def clear_block(prefix: str) -> Response:
    """End the block of a prefix: sends to it are counted afresh."""
    client = authenticate(Scope.ADMIN)
    if calling_code_of(prefix) is None:
        reason = "must be an ISO 3166 country (US) or an E.164 prefix (+88213)"
        raise InvalidRequest([FieldError("prefix", reason)])
    if services().fraud.unblock(client, prefix) is None:
        raise FraudBlockNotFound(f"No active block of {prefix}.")
    return Response(status=204)
