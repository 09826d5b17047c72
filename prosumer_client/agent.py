"""The playing agent: follows the market's events and hands each to the part that does the
job: when a game opens it publishes its offer or demand (`registration`); on its turn it reads
the state in one call, asks the optimizer for its best response and bids it through the queue,
or stands when the best response moves no entry by more than the game's epsilon (`turns`);
between polls it sleeps as long as its turns allow (`pacing`); what it knows of each game is a
`GameTrack` (`tracking`).

The decision itself is pure and lives in `decision` (`decide`, re-exported here).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ledger_contracts import Event, wh_to_kwh

from . import pacing
from .client import Prosumer
from .decision import (
    STRATEGIES,
    Action,
    BestResponseFn,
    Decision,
    TurnContext,
    decide,
    equilibrium_share,
)
from .follower import Follower
from .logs import Tagged, kwh_list, tagged
from .registration import Registrar
from .solver import OptimizerClient
from .sources import Source
from .tracking import GameSummary, GameTrack, end_reason
from .turns import Turns

TURN_EVENTS = ("TurnStarted", "BidSubmitted", "BidStood", "TurnSkipped")


class Agent:
    """One prosumer's player. `run()` until `games` games ended (0: forever) or `stop()`."""

    def __init__(
        self,
        prosumer: Prosumer,
        follower: Follower,
        optimizer: OptimizerClient,
        source: Source,
        *,
        name: str = "PROSUMER",
        poll_interval: float = 0.01,
        games: int = 0,
        on_game_end: Callable[[GameSummary], None] | None = None,
        strategy: str = "best-response",
        log: Tagged | None = None,
    ) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r} (one of {', '.join(STRATEGIES)})")
        self.strategy = strategy
        self.prosumer = prosumer
        self.reader = prosumer.reader
        self.me = prosumer.address
        self.follower = follower
        self.optimizer = optimizer
        self.source = source
        self.games = games
        self.on_game_end = on_game_end
        self.log = log or tagged(name)
        self.pacer = pacing.Pacer(poll_interval, strategy)
        self.registrar = Registrar(prosumer, source, self.log)
        self.turns = Turns(prosumer, optimizer, self.log)
        self.tracks: dict[int, GameTrack] = {}
        self.finished: set[int] = set()  # games whose end was handled
        self.ended = 0
        self.running = False

    @property
    def poll_interval(self) -> float:
        return self.pacer.poll_interval

    # ------------------------------------------------------------------ driving

    def run(self) -> int:
        """Play until done; returns the number of games that ended meanwhile."""
        self.running = True
        self.log.info(f"Created {self.source.describe()}")
        self.catch_up()
        while self.running:
            if not self.step():
                time.sleep(self.interval())
        return self.ended

    def interval(self) -> float:
        """How long to sleep before the next poll (`pacing.Pacer.interval`)."""
        return self.pacer.interval(self.tracks.values())

    def stop(self) -> None:
        self.running = False

    def catch_up(self) -> None:
        """Join what is already under way: the last games' open registration or bidding."""
        self.registrar.catch_up(self.tracks)

    def step(self) -> bool:
        """One poll: handle new events, due turns, unconfirmed requests. True if anything
        happened (the caller polls again at once)."""
        events = self.follower.poll()
        now = time.perf_counter()
        pacing.count_turns(self.tracks, events, now)
        for event in events:
            self.handle(event, now)
            if not self.running:
                return True
        busy = bool(events)
        for track in list(self.tracks.values()):
            if track.pending is not None and pacing.check_due(track.pending, now, bool(events)):
                self.turns.check_pending(track)
            if (
                track.due is None
                and track.pending is None
                and track.bidding
                and track.role == "buyer"
                and pacing.quiet(track, now)
            ):
                track.schedule(now)  # a missed event must not cost the turn
            elif (
                track.role == "buyer"
                and not track.bidding
                and track.registration_end
                and pacing.quiet(track, now)
            ):
                self._check_registration(track, now)  # nor a missed RegistrationClosed
            if self.pacer.opening_due(track, now):
                self.turns.open(track, now)
            if track.due is not None and track.due <= time.perf_counter():
                self._turn(track)
                busy = True
        return busy

    def _check_registration(self, track: GameTrack, now: float) -> None:
        phase = self.registrar.closed_unseen(track, now)
        if phase is None:
            return
        track.bidding = True
        if phase == "bidding":
            self.turns.prepare(track)
        track.schedule(now)

    def _turn(self, track: GameTrack) -> None:
        state = self.turns.play(track)
        if state is not None:  # its GameEnded event was missed
            self._game_ended(
                track.game_id,
                state.status.end_reason,
                state.status.round,
                track,
                how="Found GameEnded",
            )

    # ------------------------------------------------------------------ events

    def handle(self, event: Event, now: float) -> None:
        name, args, game_id = event.name, event.args, event.game
        if game_id is None:
            return
        track = self.tracks.get(game_id)
        if track is not None:
            track.news = now
            if track.role == "buyer" and not track.bidding and name in TURN_EVENTS:
                # A turn event: bidding has begun, and RegistrationClosed went unseen.
                self.log.warning(
                    f"Game {game_id} is bidding although no RegistrationClosed "
                    "event was seen; playing on"
                )
                track.bidding = True
                self.turns.prepare(track)
        mine = str(args.get("buyer", "")).lower() == self.me.lower()
        if name == "GameOpened":
            self.log.info(f"Received GameOpened for game {game_id}")
            self.registrar.register(self.tracks, game_id, int(args["registrationEnd"]))
        elif track is None or track.role is None:
            if name == "GameEnded":
                self._ended_event(game_id, args, None)
        elif name == "RegistrationClosed":
            track.bidding = True
            self.log.info(
                f"Received RegistrationClosed for game {game_id}: "
                f"{args['sellers']} sellers, {args['buyers']} buyers"
            )
            if track.role == "buyer":
                self.turns.prepare(track)
        elif name == "TurnStarted":
            track.current = str(args["buyer"])
            track.round = int(args["round"])
            if mine:
                track.schedule(now)
        elif name in ("BidSubmitted", "BidStood") and mine:
            self.turns.confirmed(track, event, now)
        elif name == "TurnSkipped" and mine:
            self.log.warning(
                f"My turn in game {game_id} round {args['round']} expired and "
                "was skipped; my previous bid stands"
            )
            track.pending, track.due = None, None
        elif name == "GameEnded":
            self._ended_event(game_id, args, track)

    def _ended_event(self, game_id: int, args: dict[str, Any], track: GameTrack | None) -> None:
        self._game_ended(game_id, end_reason(int(args["reason"])), int(args["rounds"]), track)

    def _game_ended(
        self,
        game_id: int,
        reason: str,
        rounds: int,
        track: GameTrack | None,
        how: str = "Received GameEnded",
    ) -> None:
        if game_id in self.finished:  # seen already (a state read found it before its event)
            return
        self.finished.add(game_id)
        self.log.info(f"{how} for game {game_id}: {reason} after {rounds} rounds")
        if track is not None:
            self.tracks.pop(game_id, None)
            if track.role == "buyer":
                self.log.verbose(
                    f"Final bid in game {game_id}: "
                    f"{kwh_list(wh_to_kwh(v) for v in track.last_bid_wh)}"
                )
        if self.on_game_end is not None:
            self.on_game_end(GameSummary.of(game_id, reason, rounds, track))
        self.ended += 1
        if self.games and self.ended >= self.games:
            self.stop()


__all__ = [
    "STRATEGIES",
    "Action",
    "Agent",
    "BestResponseFn",
    "Decision",
    "GameSummary",
    "GameTrack",
    "TurnContext",
    "decide",
    "equilibrium_share",
]
