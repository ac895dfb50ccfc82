"""The ``/v1/fraud`` response models (pydantic): one source for rendering and the OpenAPI."""

from __future__ import annotations

from pydantic import BaseModel, Field

from otp_service.fraud import Block, Figures
from otp_service.web.schemas import iso_timestamp


class FiguresResponse(BaseModel):
    """The counts behind a block (decayed counts: recent events weigh most)."""

    window: str = Field(description="The window that tripped: `1h` or `24h`.")
    sends: float = Field(description="Sends old enough to have been checked.")
    approvals: float = Field(description="Right codes.")
    expected_conversion: float = Field(description="The share of sends expected to be checked.")
    excess: float = Field(description="Unverified sends above what that conversion predicts.")
    threshold: float = Field(description="The excess that blocks: allowance + slack.")

    @classmethod
    def of(cls, figures: Figures) -> FiguresResponse:
        """Render the figures of a decision, rounded."""
        return cls.model_validate(figures.rounded())


class BlockResponse(BaseModel):
    """An active block: sends to numbers under ``prefix`` are refused until ``blocked_until``."""

    prefix: str = Field(description="An ISO 3166 country or an E.164 prefix such as `+88213`.")
    country: str = Field(description="The country the prefix is in (ISO 3166, or `+882`).")
    mode: str = Field(description="`block`: enforced; `monitor`: recorded, nothing refused.")
    blocked_at: str
    blocked_until: str
    figures: FiguresResponse

    @classmethod
    def of(cls, block: Block) -> BlockResponse:
        """Render a block."""
        return cls(
            prefix=block.prefix,
            country=block.country,
            mode=block.mode,
            blocked_at=iso_timestamp(block.since_ms),
            blocked_until=iso_timestamp(block.until_ms),
            figures=FiguresResponse.of(block.figures),
        )


class BlockListResponse(BaseModel):
    """The guard's mode and its active blocks, the soonest over first."""

    mode: str = Field(description="`off`, `monitor` or `block` (`OTP_FRAUD_GUARD`).")
    blocks: list[BlockResponse]
