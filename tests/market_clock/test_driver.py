"""The driver loop against an in-memory market: stopping after N games, jumps and holds of
simulated time, transient failures, earlier requests still in the queue, restarts."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from market_clock.clock import Clock, Executor
from market_clock.errors import Transient
from market_clock.model import (
    Action,
    ChainView,
    CloseGame,
    CloseRegistration,
    EndReason,
    FixTrades,
    GameView,
    OpenGame,
    Phase,
    Plan,
    SettlementView,
    SkipTurn,
)

PLAN = Plan(
    period=900,
    registration=120,
    delivery=900,
    round_limit=3,
    turn_seconds=30,
    epsilon_wh=10,
    metering=60,
    chunk=100,
)


class World(Executor):
    """A market whose buyers never bid, a chain clock, and the clock's executor in one."""

    simulated = True
    speed = 10.0

    def __init__(self, buyers: int = 2, settlement: bool = False, t: int = 1_000_000) -> None:
        self.t = t
        self.buyers = buyers
        self.settlement = settlement
        self.games: list[GameView] = []
        self.actions: list[Action] = []
        self.at: list[int] = []  # the chain time of each action
        self.jumps: list[int] = []
        self.holds: list[int | None] = []
        self.failures = 0  # the next n actions fail transiently
        self.unsettled = 0  # settled() answers False this many times

    # chain clock
    def now(self) -> int:
        return self.t

    def advance(self, hold: int | None) -> None:
        self.holds.append(hold)
        target = self.t + 5
        self.t = max(self.t, min(target, hold) if hold is not None else target)

    def jump(self, to: int) -> None:
        self.jumps.append(to)
        self.t = max(self.t, to)

    def freshen(self, needed: int) -> None:
        pass

    # reader
    def read(self) -> ChainView:
        games = tuple(self.games)
        return ChainView(len(games), games, games[-1] if games else None)

    # executor
    def settled(self) -> bool:
        if self.unsettled:
            self.unsettled -= 1
            return False
        return True

    def run(self, action: Action, view: ChainView, now: int) -> bool:
        if self.failures:
            self.failures -= 1
            raise Transient("queue unavailable")
        self.actions.append(action)
        self.at.append(self.t)
        if isinstance(action, OpenGame):
            self.games.append(
                GameView(
                    id=len(self.games) + 1,
                    phase=Phase.REGISTRATION,
                    registration_end=action.registration_end,
                    delivery_end=action.delivery_end,
                    round_limit=action.round_limit,
                    turn_seconds=action.turn_seconds,
                )
            )
            return True
        g = self.games[action.game_id - 1]  # type: ignore[union-attr]
        if isinstance(action, CloseRegistration):
            g = replace(
                g,
                phase=Phase.BIDDING,
                sellers=1,
                buyers=self.buyers,
                round=1,
                turn=0,
                turn_deadline=self.t + g.turn_seconds,
                current_buyer="0xb0",
            )
            if not self.buyers:
                g = self._end(g, EndReason.NO_PARTICIPANTS)
        elif isinstance(action, SkipTurn):
            if self.t >= g.delivery_end:  # bidding is over: the market ends it for time
                g = self._end(g, EndReason.TIME_LIMIT)
            elif g.turn + 1 < g.buyers:
                g = replace(g, turn=g.turn + 1, turn_deadline=self.t + g.turn_seconds)
            else:  # a round of skips changes nothing: converged
                g = self._end(g, EndReason.CONVERGED)
        elif isinstance(action, FixTrades):
            g = replace(g, settlement=SettlementView(fixed=True, closed=False))
        elif isinstance(action, CloseGame):
            assert self.t >= g.delivery_end + PLAN.metering
            g = replace(g, settlement=SettlementView(fixed=True, closed=True))
        self.games[g.id - 1] = g
        return True

    def _end(self, g: GameView, reason: EndReason) -> GameView:
        settlement = SettlementView(False, False) if self.settlement else None
        return replace(g, phase=Phase.ENDED, end_reason=reason, settlement=settlement)


def clock(world: World, games: int, **kw: object) -> Clock:
    return Clock(
        read=world.read,
        chain=world,
        executor=world,
        plan=PLAN,
        games=games,
        tick=0.0,
        grace=0.0,
        **kw,
    )  # type: ignore[arg-type]


def kinds(world: World) -> list[str]:
    return [type(a).__name__ for a in world.actions]


def test_plays_n_games_and_stops(caplog: pytest.LogCaptureFixture) -> None:
    world = World()
    c = clock(world, games=2)
    with caplog.at_level(logging.INFO, logger="market_clock"):
        assert c.run() == 2
    assert kinds(world) == ["OpenGame", "CloseRegistration", "SkipTurn", "SkipTurn"] * 2
    assert len(world.games) == 2  # never a third
    assert world.games[1].registration_end - world.games[0].registration_end == PLAN.period
    assert world.jumps  # idle after game 1 ended: jumped to game 2's opening
    assert c.status.state == "finished" and c.status.games_done == 2
    assert caplog.messages.count("Game 1 ended: converged after 1 rounds") == 1


def test_a_game_without_participants_counts_as_done() -> None:
    world = World(buyers=0)
    assert clock(world, games=1).run() == 1
    assert kinds(world) == ["OpenGame", "CloseRegistration"]


def test_settlement_fixes_waits_for_delivery_and_meters_then_closes() -> None:
    world = World(settlement=True)
    assert clock(world, games=1).run() == 1
    assert kinds(world) == [
        "OpenGame",
        "CloseRegistration",
        "SkipTurn",
        "SkipTurn",
        "FixTrades",
        "CloseGame",
    ]
    game = world.games[0]
    assert game.delivery_end in world.jumps  # jumped to the delivery end, not past it
    assert game.delivery_end + PLAN.metering not in world.jumps  # the meters' window ran


def test_transient_failures_are_retried_not_fatal() -> None:
    world = World()
    world.failures = 3
    c = clock(world, games=1)
    assert c.run() == 1
    assert kinds(world) == ["OpenGame", "CloseRegistration", "SkipTurn", "SkipTurn"]


def test_no_action_while_earlier_requests_may_still_execute() -> None:
    world = World()
    world.unsettled = 4
    c = clock(world, games=1)
    assert c.step() is False and c.step() is False
    assert world.actions == []
    assert c.run() == 1


def test_a_fresh_clock_carries_on_with_a_game_in_bidding() -> None:
    world = World()
    first = clock(world, games=1)
    while not any(isinstance(a, SkipTurn) for a in world.actions):
        first.step()
    second = clock(world, games=1)  # "restarted": no memory at all
    assert second.run() == 1
    assert kinds(world).count("OpenGame") == 1
    assert world.games[0].phase == Phase.ENDED


def test_windows_are_held_for_the_grace_in_simulated_time() -> None:
    world = World()
    wall = [0.0]
    c = Clock(
        read=world.read,
        chain=world,
        executor=world,
        plan=PLAN,
        games=1,
        tick=0.0,
        grace=1.0,
        wall=lambda: wall[0],
    )
    for _ in range(50):  # wall time stands still: the registration window is held
        c.step()
    game = world.games[0]
    assert game.phase == Phase.REGISTRATION and world.t == game.registration_end - 1 - 2
    wall[0] = 1.0  # its grace is over: registration closes, the first turn starts
    while world.games[0].phase == Phase.REGISTRATION:
        c.step()
    for _ in range(50):  # the new turn gets its own grace
        c.step()
    game = world.games[0]
    assert game.phase == Phase.BIDDING and game.turn == 0  # never skipped
    assert world.t == game.turn_deadline - 2 and world.holds[-1] == game.turn_deadline - 2
    c.grace = 0.0
    assert c.run() == 1


def test_stop_event_ends_the_loop() -> None:
    world = World()
    c = clock(world, games=0)
    c.stop_event.set()
    assert c.run() == 0 and c.status.state == "stopped"


def test_a_turn_outlasting_the_delivery_end_is_skipped_there_and_ends_the_game() -> None:
    # A dead buyer's turn (5000 s, a deadline this world does not cap) outlasts the delivery
    # end: the clock skips at the delivery end, not at the deadline, and the game ends for time.
    world = World(buyers=2)
    c = Clock(
        read=world.read,
        chain=world,
        executor=world,
        plan=replace(PLAN, turn_seconds=5_000),
        games=1,
        tick=0.0,
        grace=0.0,
    )
    assert c.run() == 1
    (game,) = world.games
    assert game.end_reason == EndReason.TIME_LIMIT
    skips = [
        (a, t) for a, t in zip(world.actions, world.at, strict=True) if isinstance(a, SkipTurn)
    ]
    assert len(skips) == 1
    skip, at = skips[0]
    assert skip.deadline == game.delivery_end - 1
    assert game.delivery_end <= at < game.delivery_end + 5  # within a tick of the delivery end
