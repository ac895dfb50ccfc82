"""The OpenAPI operations of the ``/v1/insights`` routes."""

from __future__ import annotations

from typing import Final

from otp_service.web.insights.schemas import ConversionQuery, ConversionResponse
from otp_service.web.openapi import STORE, Operation, Reply, problem

OPERATIONS: Final = (
    Operation(
        "get",
        "/v1/insights/conversion",
        "Conversion figures by country, channel or prefix",
        {
            200: Reply("One row per key, most codes sent first.", ConversionResponse),
            401: problem("No API key, or one that is not known (`unauthorized`)."),
            403: problem(
                "The key has neither `verifications:check` nor `admin`, or names another "
                "client without `admin` (`forbidden`)."
            ),
            422: problem("A parameter is unknown, missing or malformed (`validation-error`)."),
            **STORE,
        },
        description="Hourly counters, kept `OTP_INSIGHTS_RETENTION_DAYS` (35) days: every hour "
        "that overlaps `[from, to)` counts. Conversion is approved verifications per code sent.",
        tags=("insights",),
        query=ConversionQuery,
    ),
)
