"""What the agent keeps about each game it is in: the game's `GameTrack` (its role, the turn
it is at, what it is waiting for, its timings), the request of its turn on its way to the chain
(`Pending`), and the `GameSummary` it reports when the game ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger_contracts import wh_to_kwh

from .decision import Action, TurnContext
from .market import END_REASONS
from .sources import Intent


@dataclass
class Pending:
    """A bid or stand queued for a turn, until its event (or the queue) confirms it."""

    request_id: int
    action: Action
    round: int
    noticed: float  # perf_counter when the turn was noticed
    sent: float
    checked: float


@dataclass
class GameTrack:
    game_id: int
    role: str | None = None  # "seller" / "buyer" once registered
    intent: Intent | None = None
    ctx: TurnContext | None = None
    bidding: bool = False  # registration closed, the game not ended
    due: float | None = None  # perf_counter at which to look at the turn
    current: str | None = None  # the buyer whose turn it is (from TurnStarted)
    looked: float = 0.0  # perf_counter of the last look at the state
    news: float = 0.0  # perf_counter of the last event of this game
    turn_seconds: float = 0.0  # how long a turn takes, as seen (moving average; 0: unknown)
    turn_seen: float = 0.0  # perf_counter of the last poll that brought a TurnStarted
    registration_end: int = 0  # chain time, set when we register (0: registered by an earlier run)
    noticed: float = 0.0
    pending: Pending | None = None
    failures: int = 0
    agent_ms: list[float] = field(default_factory=list)  # noticed -> request queued
    turn_ms: list[float] = field(default_factory=list)  # noticed -> our event seen
    last_bid_wh: tuple[int, ...] = ()
    opening: tuple[float, ...] | None = None  # kWh: the first bid (`equilibrium` strategy)
    opening_tried: float = 0.0  # perf_counter of the last attempt at computing it
    round: int = 0  # from the last TurnStarted

    def schedule(self, now: float) -> None:
        """Look at the turn at `now` (our TurnStarted came, or may have been missed)."""
        self.due = now
        self.noticed = now
        self.failures = 0

    def away(self) -> int | None:
        """Turns before ours in this game (None: not known)."""
        if self.ctx is None or self.current is None:
            return None
        return self.ctx.turns_until_mine(self.current)


@dataclass(frozen=True)
class GameSummary:
    game_id: int
    reason: str
    rounds: int
    role: str | None
    kwh: float | None
    price: float | None
    bid_kwh: tuple[float, ...]
    turns: int
    agent_ms_mean: float | None
    turn_ms_mean: float | None
    turn_ms_max: float | None

    @classmethod
    def of(cls, game_id: int, reason: str, rounds: int, track: GameTrack | None) -> GameSummary:
        """The summary of a game that ended (`track`: None if we were not in it)."""
        if track is None:
            return cls(game_id, reason, rounds, None, None, None, (), 0, None, None, None)
        intent = track.intent
        return cls(
            game_id,
            reason,
            rounds,
            track.role,
            intent.kwh if intent else None,
            intent.price if intent else None,
            tuple(wh_to_kwh(v) for v in track.last_bid_wh),
            len(track.turn_ms),
            _mean(track.agent_ms),
            _mean(track.turn_ms),
            round(max(track.turn_ms), 3) if track.turn_ms else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "event": "game_ended",
            "game": self.game_id,
            "reason": self.reason,
            "rounds": self.rounds,
            "role": self.role,
            "kwh": self.kwh,
            "price": self.price,
            "bid_kwh": list(self.bid_kwh),
            "turns": self.turns,
            "agent_ms_mean": self.agent_ms_mean,
            "turn_ms_mean": self.turn_ms_mean,
            "turn_ms_max": self.turn_ms_max,
        }


def end_reason(code: int) -> str:
    """The name of a GameEnded event's `reason` code."""
    return END_REASONS[code] if code < len(END_REASONS) else f"unknown({code})"


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None
