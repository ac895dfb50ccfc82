"""
A scenario of the pumping simulator (``bench/pumping.py``): a day of legitimate traffic and the
attacks on it, read from JSON (see ``bench/README.md``, section "Pumping guard").
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

#: An attack's numbers: an E.164 prefix, then ``{k}`` for k random digits (``+88213{6}``);
#: literal digits and ``{k}`` groups may alternate.
PATTERN: Final = re.compile(r"^\+[1-9][0-9]*(?:(?:\{[1-9][0-9]?\})|[0-9])*$")
#: A safe-list entry: a number or an E.164 prefix, as ``OTP_FRAUD_SAFE_LIST`` takes them.
SAFE_ENTRY: Final = re.compile(r"^\+[1-9][0-9]{0,14}$")

Share = Annotated[float, Field(ge=0, le=1)]
Rate = Annotated[float, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Legit(_Strict):
    """
    Legitimate traffic: ``per_hour`` sends (a Poisson process; with ``diurnal``, modulated by a
    daily curve of mean 1, 0.3x at 03:00 and 1.7x at 15:00), to valid mobile numbers of
    ``countries`` (ISO code → weight), each checked with the right code with probability
    ``conversion``.
    """

    per_hour: Rate
    countries: dict[str, Annotated[float, Field(gt=0)]] = Field(min_length=1)
    conversion: Share
    diurnal: bool = False

    @field_validator("countries")
    @classmethod
    def _iso_codes(cls, countries: dict[str, float]) -> dict[str, float]:
        bad = [code for code in countries if not re.fullmatch(r"[A-Z]{2}", code)]
        if bad:
            raise ValueError(f"not ISO 3166 codes: {bad}")
        return countries


class Attack(_Strict):
    """
    One attack: ``per_hour`` sends (Poisson) from ``start_hour`` for ``hours``, to random numbers
    of ``numbers`` (a pattern, or a list of patterns drawn from at random), a share
    ``conversion`` of them checked with the right code, spread over ``clients`` API clients and
    ``ips`` addresses (the guard is global: they only change the client named on each send).
    """

    start_hour: Annotated[float, Field(ge=0)]
    hours: Annotated[float, Field(gt=0)]
    per_hour: Annotated[float, Field(gt=0)]
    numbers: str | list[str]
    conversion: Share = 0.0
    clients: Annotated[int, Field(ge=1)] = 1
    ips: Annotated[int, Field(ge=1)] = 1
    name: str = ""

    @field_validator("numbers")
    @classmethod
    def _patterns(cls, numbers: str | list[str]) -> str | list[str]:
        patterns = [numbers] if isinstance(numbers, str) else numbers
        bad = [pattern for pattern in patterns if not PATTERN.fullmatch(pattern)]
        if not patterns or bad:
            raise ValueError(f"not number patterns such as +88213{{6}}: {bad or patterns}")
        return numbers

    @property
    def patterns(self) -> list[str]:
        """The attack's patterns, as a list."""
        return [self.numbers] if isinstance(self.numbers, str) else list(self.numbers)


class PolicyOverrides(_Strict):
    """The guard's thresholds every simulated client's policy sets (``Policy`` defaults else)."""

    fraud_allowance: Annotated[int, Field(ge=1)] | None = None
    fraud_ratio: Share | None = None
    fraud_block_seconds: Annotated[int, Field(ge=60)] | None = None


class Scenario(_Strict):
    """
    ``hours`` of ``legit`` traffic and ``attacks``; optionally a ``safe_list`` given to the guard
    and ``safe_per_hour`` sends to it (never checked, never to be refused), the guard's ``mode``
    and ``policy`` overrides.
    """

    hours: Annotated[float, Field(gt=0, le=24 * 14)]
    legit: Legit
    attacks: list[Attack] = Field(default_factory=list)
    safe_list: list[str] = Field(default_factory=list)
    safe_per_hour: Rate = 0.0
    mode: Literal["block", "monitor"] = "block"
    policy: PolicyOverrides = Field(default_factory=PolicyOverrides)
    description: str = ""

    @field_validator("safe_list")
    @classmethod
    def _safe_entries(cls, entries: list[str]) -> list[str]:
        bad = [entry for entry in entries if not SAFE_ENTRY.fullmatch(entry)]
        if bad:
            raise ValueError(f"not E.164 numbers or prefixes: {bad}")
        return entries


class ScenarioError(ValueError):
    """A scenario file that cannot be read or does not have the scenario's shape."""


def parse_scenario(data: object) -> Scenario:
    """
    A scenario from its JSON value.

    Raises:
        ScenarioError: it does not have the scenario's shape.
    """
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(str(error)) from error
    if scenario.safe_per_hour and not scenario.safe_list:
        raise ScenarioError("safe_per_hour needs a safe_list to send to")
    return scenario


def load_scenario(path: Path) -> Scenario:
    """
    The scenario in the JSON file ``path``.

    Raises:
        ScenarioError: the file cannot be read, is not JSON or not a scenario.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ScenarioError(f"{path}: {error}") from error
    return parse_scenario(data)
