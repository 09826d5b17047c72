"""The clock's loop: a pure decision (`next_action`, `hold_until`) and the driver that reads the
chain, acts through the transaction queue and moves simulated time.

Stateless across restarts: everything a decision needs is read from the chain on every tick
(game count, each unfinished game's parameters and status, the chain's time). The driver's
memory is only an optimisation (where unfinished games start) and politeness (what it already
logged, when it first saw a turn); losing it changes no decision the chain would accept.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from .errors import ClockError, Fatal, Transient
from .logs import RateLimited, get_logger
from .model import (
    Action,
    ChainView,
    CloseGame,
    CloseRegistration,
    FixTrades,
    GameView,
    OpenGame,
    Phase,
    Plan,
    SkipTurn,
    Wait,
)
from .time import ChainClock

log = get_logger()

WindowKey = tuple[object, ...]


# ---------------------------------------------------------------------------- pure decision


def next_action(view: ChainView, now: int, plan: Plan) -> Action:
    """The one thing to do at chain time `now` (the time the next block will carry).

    Oldest game first: close its registration once the window has ended, skip its current
    turn once the deadline has passed or the delivery end has come (`GameView.turn_end`:
    that skip ends the game for time); with settlement, fix its trades once bidding has ended
    and close it once its delivery period and the meters' window after it are over. Then open
    the next game if it is due. Otherwise wait until the earliest of those times.
    """
    pending: list[int] = []
    for game in view.games:
        if game.phase == Phase.REGISTRATION:
            if now >= game.registration_end:
                return CloseRegistration(game.id)
            pending.append(game.registration_end)
        elif game.phase == Phase.BIDDING:
            if now > game.turn_end:
                return SkipTurn(game.id, game.current_buyer, game.round, game.turn_end)
            pending.append(game.turn_end + 1)
        elif game.phase == Phase.ENDED and game.settlement is not None:
            if not game.settlement.fixed:
                return FixTrades(game.id, plan.chunk)
            if not game.settlement.closed:
                close_after = plan.close_after(game)
                if now >= close_after or (now >= game.delivery_end and plan.all_read(game)):
                    return CloseGame(game.id, plan.chunk)
                # Stop at the delivery end first: the meters' window is not to be jumped over.
                pending.append(game.delivery_end if now < game.delivery_end else close_after)
    due = plan.next_open(view)
    if due is not None:
        if now >= due:
            # Keep the cadence when only a little late; after a long outage start from now
            # (a registration window must end in the future).
            start = due if now < due + plan.registration // 2 else now
            end = start + plan.registration
            return OpenGame(
                start,
                end,
                end + plan.delivery,
                plan.round_limit,
                plan.turn_seconds,
                plan.epsilon_wh,
            )
        pending.append(due)
    return Wait(min(pending) if pending else None, idle=not windows(view, now, plan))


def windows(view: ChainView, now: int, plan: Plan) -> dict[WindowKey, int]:
    """Every window a prosumer or meter may be acting in at `now`, by key, with the last chain
    time at which its action is still accepted: an offer or demand needs `timestamp <
    registrationEnd`, a bid `timestamp <= turnDeadline` and `< deliveryEnd`; a meter posts its
    reading after the delivery end and before the clock closes the game."""
    out: dict[WindowKey, int] = {}
    for g in view.games:
        if g.phase == Phase.REGISTRATION:
            out[("registration", g.id)] = g.registration_end - 1
        elif g.phase == Phase.BIDDING:
            out[("turn", g.id, g.round, g.turn)] = g.turn_end
        elif (
            g.phase == Phase.ENDED
            and g.settlement is not None
            and g.settlement.fixed
            and not g.settlement.closed
            and g.delivery_end <= now < plan.close_after(g)
        ):
            out[("metering", g.id)] = plan.close_after(g) - 1
    return out


def hold_until(
    view: ChainView,
    now: int,
    plan: Plan,
    first_seen: Mapping[WindowKey, float],
    wall: float,
    grace: float,
    meter_grace: float = 0.0,
) -> int | None:
    """Simulated time must not pass this chain time yet (None: no limit).

    Each window keeps at least `grace` wall seconds (a meters' window `meter_grace`) from when
    the clock first saw it: until then, time is held far enough before the window's last second
    that a block mined within the grace (Anvil's own clock runs on at wall speed, rounded to
    whole seconds) still falls inside the window.
    """
    limits = []
    for key, last in windows(view, now, plan).items():
        keep = _grace(key, grace, meter_grace)
        if wall - first_seen.get(key, wall) < keep:
            limits.append(last - math.ceil(keep) - 1)
    return min(limits) if limits else None


def _grace(key: WindowKey, grace: float, meter_grace: float) -> float:
    """A meters' window gets `meter_grace` wall seconds: a meter posts one reading per
    participant, hundreds in a big game (the game is closed as soon as all are in)."""
    return max(grace, meter_grace) if key[0] == "metering" else grace


# ---------------------------------------------------------------------------- driver


@dataclass
class Status:
    """What `GET /health` reports; replaced whole, so readers never see half an update."""

    state: str = "starting"  # starting, running, degraded, finished, stopped, failed
    chain_time: int | None = None
    game: GameView | None = None
    active: tuple[int, ...] = ()
    games_done: int = 0
    last_action: str | None = None
    last_error: str | None = None


class Executor:
    """Performs actions; `run` returns True if the action took effect, False if the chain
    says it is already done or not yet possible. Implemented in `actions.py`."""

    def run(self, action: Action, view: ChainView, now: int) -> bool:  # pragma: no cover
        raise NotImplementedError

    def settled(self) -> bool:  # pragma: no cover
        """False while requests this clock sent earlier may still execute."""
        raise NotImplementedError


class Clock:
    def __init__(
        self,
        *,
        read: Callable[[], ChainView],
        chain: ChainClock,
        executor: Executor,
        plan: Plan,
        games: int = 0,
        tick: float = 0.05,
        grace: float = 1.0,
        meter_grace: float = 0.0,
        jump: bool = True,
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read = read
        self.chain = chain
        self.executor = executor
        self.plan = plan
        self.games = games
        self.tick = tick
        self.grace = grace
        self.meter_grace = meter_grace
        self.jump = jump
        self.wall = wall
        self.status = Status()
        self.stop_event = threading.Event()
        self._first_seen: dict[WindowKey, float] = {}
        self._now = 0  # the chain time of the last look
        self._open: set[int] = set()  # games seen unfinished by this process
        self._ended: set[int] = set()  # games whose end was logged
        self._backoff = 0.0
        self._warn = RateLimited(10.0)

    # -------------------------------------------------------------------- loop

    def run(self) -> int:
        """Loop until stopped or `games` games are done; returns the number done."""
        log.info(
            "Clock running, "
            + (f"simulated time x{self.chain.speed:g}" if self.chain.simulated else "real time")
            + (f", until {self.games} game(s) are done" if self.games else "")
        )
        while not self.stop_event.is_set():
            try:
                finished = self.step()
                self._recovered()
                if finished:
                    break
            except Fatal as exc:
                log.error(f"{exc}; the clock stops")
                self.status = replace(self.status, state="failed", last_error=str(exc))
                return self.status.games_done
            except ClockError as exc:
                self._trouble(exc)
            except Exception as exc:  # never crash on the unexpected: report, back off
                log.exception("unexpected error (retrying)")
                self._trouble(exc)
        self.status = replace(self.status, state="finished" if self._finished() else "stopped")
        return self.status.games_done

    def step(self) -> bool:
        """One look at the chain and at most one action. True once the clock has finished."""
        view = self.read()
        now = self.chain.now()
        self._observe(view, now)
        if self._finished():
            return True
        if not self.executor.settled():  # an earlier request may still execute: not yet
            self._wait(view, Wait(None, idle=False))
            return False
        plan = replace(self.plan, may_open=self._may_open(view))
        action = next_action(view, now, plan)
        if isinstance(action, Wait):
            self._wait(view, action)
            return False
        self.status = replace(self.status, last_action=type(action).__name__)
        if not self.executor.run(action, view, now):
            self._wait(view, Wait(None, idle=False))  # "not yet": let time move on
        return False

    def _wait(self, view: ChainView, action: Wait) -> None:
        if self.chain.simulated:
            if action.idle and self.jump and action.until is not None:
                self.chain.jump(action.until)
            else:
                self.chain.advance(
                    hold_until(
                        view,
                        self._now,
                        self.plan,
                        self._first_seen,
                        self.wall(),
                        self.grace,
                        self.meter_grace,
                    )
                )
        self._sleep(self.tick)

    # -------------------------------------------------------------------- bookkeeping

    def _observe(self, view: ChainView, now: int) -> None:
        wall = self.wall()
        self._now = now
        self._first_seen = {k: self._first_seen.get(k, wall) for k in windows(view, now, self.plan)}
        unfinished = {g.id for g in view.games if not g.done}
        for game in view.games:
            if (
                game.phase == Phase.ENDED
                and game.id not in self._ended
                and (not game.done or game.id in self._open)
            ):
                self._ended.add(game.id)
                log.info(describe_end(game))
        done = self._open - unfinished
        if done:
            self._ended -= done
            self.status = replace(self.status, games_done=self.status.games_done + len(done))
        self._open = unfinished
        driving = max(
            (g for g in view.games if not g.done), key=lambda g: g.id, default=view.latest
        )
        self.status = replace(
            self.status, chain_time=now, game=driving, active=tuple(sorted(unfinished))
        )

    def _recovered(self) -> None:
        """A whole step went through: running (again)."""
        if self.status.state == "degraded":
            log.info("Node and queue answer again")
        self._backoff = 0.0
        if self.status.state != "running" or self.status.last_error is not None:
            self.status = replace(self.status, state="running", last_error=None)

    def _may_open(self, view: ChainView) -> bool:
        return self.games == 0 or self.status.games_done + len(self._open) < self.games

    def _finished(self) -> bool:
        return self.games > 0 and self.status.games_done >= self.games

    def _trouble(self, exc: Exception) -> None:
        self._backoff = min(max(self._backoff * 2, 0.1), 2.0)
        text = str(exc) or type(exc).__name__
        self.status = replace(self.status, state="degraded", last_error=text)
        if not isinstance(exc, Transient) or self._warn.due():
            log.warning(f"{text} (retrying in {self._backoff:.1f} s)")
        self._sleep(self._backoff)

    def _sleep(self, seconds: float) -> None:
        self.stop_event.wait(seconds)


def describe_end(game: GameView) -> str:
    reason = game.end_reason.text
    if game.end_reason.name == "NO_PARTICIPANTS":
        return (
            f"Game {game.id} ended: no participants ({game.sellers} sellers, {game.buyers} buyers)"
        )
    if game.end_reason.name == "TIME_LIMIT":
        when = f"in round {game.round}" if game.round else "before the first turn"
        return f"Game {game.id} ended: {reason}, delivery end reached {when}"
    return f"Game {game.id} ended: {reason} after {game.round} rounds"
