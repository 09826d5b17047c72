"""`GET /health`: the chain's time, the game the clock is driving and its phase."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from gridgame import Health

from .clock import Clock
from .model import GameView

Settled = Literal["n/a", "open", "fixed", "closed"]


class GameOut(BaseModel):
    id: int
    phase: Literal["none", "registration", "bidding", "ended"]
    end_reason: Literal["none", "converged", "round_limit", "no_participants", "time_limit"]
    sellers: int
    buyers: int
    round: int
    turn: int
    current_buyer: str | None
    registration_end: int = Field(description="chain time (unix seconds)")
    delivery_end: int = Field(description="chain time (unix seconds)")
    turn_deadline: int = Field(description="chain time the current turn expires after")
    settled: Settled = Field(
        description="settlement: n/a without a settlement contract or before bidding ended"
    )

    @classmethod
    def of(cls, g: GameView) -> GameOut:
        settled: Settled = (
            "n/a"
            if g.settlement is None
            else ("closed" if g.settlement.closed else "fixed" if g.settlement.fixed else "open")
        )
        return cls(
            id=g.id,
            phase=g.phase.name.lower(),  # type: ignore[arg-type]
            end_reason=g.end_reason.name.lower(),  # type: ignore[arg-type]
            sellers=g.sellers,
            buyers=g.buyers,
            round=g.round,
            turn=g.turn,
            current_buyer=g.current_buyer,
            registration_end=g.registration_end,
            delivery_end=g.delivery_end,
            turn_deadline=g.turn_deadline,
            settled=settled,
        )


class HealthOut(Health):
    status: Literal["ok", "starting", "degraded", "finished", "stopped", "failed"]
    mode: Literal["real", "simulated"]
    speed: float
    account: str = Field(description="the clock's account (holds CLOCK_ROLE)")
    chain_time: int | None = Field(description="the chain's time (unix seconds)")
    chain_time_utc: str | None
    game: GameOut | None = Field(
        description="the game being driven: the newest unfinished one, else the latest"
    )
    active_games: list[int] = Field(description="games the clock still has work with")
    games_done: int = Field(description="games finished since this process started")
    last_action: str | None
    last_error: str | None


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]
router = APIRouter()


@router.get("/health", response_model=HealthOut)
def health(clock: ClockDep, request: Request) -> HealthOut:
    s = clock.status
    state = "ok" if s.state == "running" else s.state
    stamp = (
        dt.datetime.fromtimestamp(s.chain_time, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if s.chain_time is not None
        else None
    )
    return HealthOut(
        status=state,  # type: ignore[arg-type]
        mode="simulated" if clock.chain.simulated else "real",
        speed=clock.chain.speed,
        account=request.app.state.account,
        chain_time=s.chain_time,
        chain_time_utc=stamp,
        game=GameOut.of(s.game) if s.game else None,
        active_games=list(s.active),
        games_done=s.games_done,
        last_action=s.last_action,
        last_error=s.last_error,
    )
