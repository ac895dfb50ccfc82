"""The OpenAPI operations of the ``/v1/fraud`` routes."""

from __future__ import annotations

from typing import Final

from otp_service.web.fraud.schemas import BlockListResponse
from otp_service.web.openapi import STORE, Operation, Reply, key_problems, problem

OPERATIONS: Final = (
    Operation(
        "get",
        "/v1/fraud/blocks",
        "List the pumping guard's active blocks",
        {
            **key_problems("admin"),
            200: Reply(
                "The guard's mode and its blocks, with the figures behind each.", BlockListResponse
            ),
            **STORE,
        },
        tags=("fraud",),
    ),
    Operation(
        "delete",
        "/v1/fraud/blocks/{prefix}",
        "End a block of the pumping guard (audited)",
        {
            **key_problems("admin"),
            204: Reply("Ended: sends to the prefix are allowed and counted afresh."),
            404: problem("No active block of this prefix (`fraud-block-not-found`)."),
            422: problem("Not a country or an E.164 prefix (`validation-error`)."),
            **STORE,
        },
        tags=("fraud",),
        path_parameters={
            "prefix": "An ISO 3166 country (`US`) or an E.164 prefix (`+88213`, "
            "URL-encoded as `%2B88213`)."
        },
    ),
)
