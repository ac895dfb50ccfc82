"""The ``/v1/insights`` query and response models (pydantic): one source for parsing and OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from otp_service.insights import Row
from otp_service.web.schemas import iso_timestamp


def _utc(value: datetime) -> datetime:
    """A time without an offset is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


Time = Annotated[datetime, AfterValidator(_utc)]


def milliseconds(value: datetime) -> int:
    """A time as milliseconds since the epoch."""
    return int(value.timestamp() * 1000)


class ConversionQuery(BaseModel):
    """``GET /v1/insights/conversion``: a breakdown of one window (the last day by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    by: Literal["country", "channel", "prefix"] = Field(
        description="What the rows are: a destination country (ISO 3166), a channel, or a "
        "prefix (country code and up to three digits of the area code, `+1415`)."
    )
    from_: Time | None = Field(
        None,
        alias="from",
        description="ISO 8601 start of the window (UTC without an offset); default: a day "
        "before `to`. Figures are hourly: every hour that overlaps the window counts.",
    )
    to: Time | None = Field(
        None, description="ISO 8601 end of the window; default: the end of the current hour."
    )
    client: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]{1,64}$",
        description="`admin` keys: one client's figures (default: every client's). Other keys "
        "may name only their own client.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.from_ is not None and self.to is not None and self.from_ >= self.to:
            raise ValueError("from must be before to")
        return self


class ConversionRow(BaseModel):
    """The figures of one country, channel or prefix."""

    key: str | None = Field(description="The country, channel or prefix; null: none (email).")
    started: int = Field(description="Verifications started (a first code sent or refused).")
    sent: int = Field(description="Codes a provider took (resends and fallbacks included).")
    approved: int = Field(description="Verifications approved.")
    failed: int = Field(description="Codes a provider refused.")
    conversion: float | None = Field(
        description="Approved per code sent (0 to 1, 4 decimals); null: nothing was sent."
    )

    @classmethod
    def of(cls, row: Row) -> ConversionRow:
        """Render one row of a breakdown."""
        tally = row.tally
        conversion = tally.conversion
        return cls(
            key=row.key or None,
            started=tally.started,
            sent=tally.sent,
            approved=tally.approved,
            failed=tally.failed,
            conversion=None if conversion is None else round(conversion, 4),
        )


class ConversionResponse(BaseModel):
    """A breakdown of the conversion figures of one window, most codes sent first."""

    model_config = ConfigDict(populate_by_name=True)

    by: str
    from_: str = Field(alias="from")
    to: str
    rows: list[ConversionRow]

    @classmethod
    def of(cls, by: str, from_ms: int, to_ms: int, rows: list[Row]) -> ConversionResponse:
        """Render a breakdown."""
        rendered = [ConversionRow.of(row) for row in rows]
        return cls(by=by, from_=iso_timestamp(from_ms), to=iso_timestamp(to_ms), rows=rendered)
