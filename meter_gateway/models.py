"""Request and response models of ``POST /readings`` and ``GET /health``."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from gridgame import Health

MAX_INTERVALS = 2976  # a 31-day month of quarter hours
INTERVAL_SECONDS = 900

KWh = Field(ge=0, allow_inf_nan=False, description="kWh (0 or more)")


class Interval(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime = Field(
        description="start of the 15-minute interval, ISO 8601 with "
        "its offset, e.g. 2026-12-03T10:15:00Z"
    )
    produced_kwh: float = KWh
    consumed_kwh: float = KWh


class ReadingIn(BaseModel):
    """Either one reading for the game's delivery period (``produced_kwh`` and
    ``consumed_kwh``) or its 15-minute ``intervals``, which the gateway sums."""

    model_config = ConfigDict(extra="forbid")

    game: int = Field(ge=1, lt=2**64, description="the game id")
    produced_kwh: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="energy produced in the delivery period"
    )
    consumed_kwh: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="energy consumed in the delivery period"
    )
    intervals: list[Interval] | None = Field(
        None,
        min_length=1,
        max_length=MAX_INTERVALS,
        description="15-minute interval data inside the game's delivery period, each start "
        "at most once",
    )

    @model_validator(mode="after")
    def _one_shape(self) -> ReadingIn:
        totals = (self.produced_kwh, self.consumed_kwh)
        if self.intervals is not None:
            if totals != (None, None):
                raise ValueError(
                    "give either produced_kwh and consumed_kwh, or intervals, not both"
                )
        elif None in totals:
            raise ValueError("give produced_kwh and consumed_kwh (both), or intervals")
        return self


class ReadingOut(BaseModel):
    status: Literal["posted", "queued"] = Field(
        description="'posted': mined (201); 'queued': accepted by the queue, not mined "
        "within the gateway's wait (202)"
    )
    meter: str
    prosumer: str = Field(description="the prosumer's address (Market.meterHolder)")
    game: int
    produced_wh: int
    consumed_wh: int
    request_id: int = Field(description="the transaction queue's request id")
    tx_hash: str | None = None
    block_number: int | None = None


class HealthOut(Health):
    status: Literal["ok", "degraded"]
    node: bool = Field(description="the node answered")
    queue: bool = Field(description="the transaction queue answered GET /health")
    meter_account: str = Field(description="the account the readings are signed with")
