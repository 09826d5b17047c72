"""What the clock knows and what it can do: plain, immutable values, no chain in sight.

`ChainView` is read from the ledger on every tick (`reader.read_view`); `next_action` in
`clock.py` turns a view and the chain's time into one `Action`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger_contracts import EndReason, Phase

__all__ = ["ChainView", "EndReason", "GameView", "Phase", "Plan", "SettlementView"]


@dataclass(frozen=True)
class SettlementView:
    """A game's settlement, as far as the clock is concerned."""

    fixed: bool  # every trade of the game is fixed (no more `fixTrades` needed)
    closed: bool  # the game is closed (nothing left to do)
    fixed_at: int | None = None  # chain time the trades were fixed (known while metering)
    readings: int = 0  # participants whose meter reading is in (counted while metering)


@dataclass(frozen=True)
class GameView:
    id: int
    phase: Phase
    registration_end: int
    delivery_end: int
    round_limit: int
    turn_seconds: int  # seconds per turn (`GameParams.turnSeconds`)
    end_reason: EndReason = EndReason.NONE
    sellers: int = 0
    buyers: int = 0
    round: int = 0
    turn: int = 0
    turn_deadline: int = 0  # last chain time at which the current buyer may bid
    current_buyer: str | None = None
    settlement: SettlementView | None = None  # None: no settlement contract deployed

    @property
    def turn_end(self) -> int:
        """The last chain time the current turn may still be played: its deadline, and never
        past the delivery end, which bounds bidding (the market caps every deadline at
        `deliveryEnd - 1`; from `deliveryEnd` on, `skipTurn` ends the game for `TIME_LIMIT`)."""
        return min(self.turn_deadline, self.delivery_end - 1)

    @property
    def done(self) -> bool:
        """Nothing is left for the clock to do with this game."""
        if self.phase != Phase.ENDED:
            return False
        return self.settlement is None or self.settlement.closed


@dataclass(frozen=True)
class ChainView:
    """The games from the oldest one the clock may still have work with (ascending ids; a
    game that just finished is included once more) and the latest game."""

    game_count: int
    games: tuple[GameView, ...]
    latest: GameView | None  # the game with id `game_count` (done or not)


@dataclass(frozen=True)
class Plan:
    """The clock's schedule (chain seconds) and whether it may open another game now."""

    period: int
    registration: int
    delivery: int
    round_limit: int
    turn_seconds: int
    epsilon_wh: int
    metering: int = 0  # seconds after deliveryEnd left to the meters before the game is closed
    chunk: int = 100  # items per `fixTrades` and `closeGame`
    may_open: bool = True

    def start_of(self, game: GameView) -> int:
        """The chain time a game was opened at by this schedule: its registration end minus
        the registration window (stateless: read back from the game's own parameters)."""
        return game.registration_end - self.registration

    def metering_start(self, game: GameView) -> int:
        """When the meters' window opens: the delivery end, or when the trades were fixed if
        bidding ran past the delivery end (a meter can only post once they are)."""
        fixed_at = game.settlement.fixed_at if game.settlement is not None else None
        return max(game.delivery_end, fixed_at or 0)

    def close_after(self, game: GameView) -> int:
        """When a game is closed at the latest: the meters' window after its metering start.
        It is closed sooner once every participant's reading is in (`all_read`)."""
        return self.metering_start(game) + self.metering

    @staticmethod
    def all_read(game: GameView) -> bool:
        """Every seller's and buyer's meter reading is in: nothing is left to wait for."""
        s = game.settlement
        return s is not None and s.fixed and s.readings >= game.sellers + game.buyers

    def next_open(self, view: ChainView) -> int | None:
        """When the next game is due: right away if there is none, else one period after the
        latest game's start. None if the plan may not open games."""
        if not self.may_open:
            return None
        if view.latest is None:
            return 0
        return self.start_of(view.latest) + self.period


# ---------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class OpenGame:
    start: int
    registration_end: int
    delivery_end: int
    round_limit: int
    turn_seconds: int
    epsilon_wh: int

    @property
    def params(self) -> tuple[int, int, int, int, int]:
        """`IMarket.GameParams` as a tuple, in field order."""
        return (
            self.registration_end,
            self.delivery_end,
            self.round_limit,
            self.turn_seconds,
            self.epsilon_wh,
        )


@dataclass(frozen=True)
class CloseRegistration:
    game_id: int


@dataclass(frozen=True)
class SkipTurn:
    game_id: int
    buyer: str | None
    round: int
    deadline: int


@dataclass(frozen=True)
class FixTrades:
    game_id: int
    max_buyers: int


@dataclass(frozen=True)
class CloseGame:
    game_id: int
    max_items: int


@dataclass(frozen=True)
class Wait:
    """Nothing to do before chain time `until` (None: nothing scheduled at all). `idle`: no
    game is in registration, bidding or its meters' window, so no prosumer or meter can be
    acting — simulated time may jump straight to `until`."""

    until: int | None
    idle: bool


Action = OpenGame | CloseRegistration | SkipTurn | FixTrades | CloseGame | Wait
