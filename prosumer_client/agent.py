"""The playing agent: follows the market's events; when a game opens it publishes its offer or
demand; on its turn it reads the state in one call, asks the optimizer for its best response
and bids it through the queue, or stands when the best response moves no entry by more than
the game's epsilon.

The decision itself is pure and lives in `decision` (`decide`, re-exported here).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ledger_contracts import Event, LedgerError, wh_to_kwh
from tx_queue.errors import RelayError

from .client import Prosumer
from .decision import (
    STRATEGIES,
    Action,
    BestResponseFn,
    Decision,
    TurnContext,
    decide,
    equilibrium_share,
    fallback,
)
from .errors import ProsumerError
from .follower import Follower
from .logs import Tagged, kwh, kwh_list, tagged
from .market import END_REASONS, GameState
from .solver import BestResponseQuery, OptimizerClient
from .sources import Intent, Source

RETRIES = 3  # failed attempts at one turn before standing instead
GIVE_UP_AFTER_STANDING = 2  # failed attempts at standing before leaving it to the clock
PENDING_CHECK = 0.25  # s between outcome checks of a request whose event has not come
HEARTBEAT = 1.0  # s without news of a game after which a bidding buyer reads its state anyway
# Polling: every prosumer is its own process, so at 200 buyers the polls themselves are the
# load. The full rate only when a turn of ours is near; further away, a sleep of half the time
# the turns in between should take (as this agent has seen turns go by); a registered buyer
# waiting for bidding to begin at IDLE; sellers and agents between games at REST.
NEAR = 2  # turns away from ours at which to poll at the full rate
SLOWEST = 2.0  # s: the longest sleep of a buyer far from its turn
IDLE = 0.1  # s between polls of a buyer waiting for registration to close
REST = 0.5  # s between polls with no turn to come (sellers; between games)
FAR_HEARTBEAT = 10.0  # s: the heartbeat of a buyer many turns from its own
# The `equilibrium` strategy's opening (this buyer's share of the game's equilibrium) is
# computed this many turns before the buyer's first turn, not when bidding begins: at 200
# buyers, 200 equilibria at once (each reading every buyer's hops) held up the first turns by
# seconds. The game's data is fixed once registration closes, so the result is the same.
OPENING_LEAD = 8
# ====================================================================== the loop


@dataclass
class Pending:
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

    def to_dict(self) -> dict[str, Any]:
        return {"event": "game_ended", "game": self.game_id, "reason": self.reason,
                "rounds": self.rounds, "role": self.role, "kwh": self.kwh, "price": self.price,
                "bid_kwh": list(self.bid_kwh), "turns": self.turns,
                "agent_ms_mean": self.agent_ms_mean, "turn_ms_mean": self.turn_ms_mean,
                "turn_ms_max": self.turn_ms_max}


class Agent:
    """One prosumer's player. `run()` until `games` games ended (0: forever) or `stop()`."""

    def __init__(self, prosumer: Prosumer, follower: Follower, optimizer: OptimizerClient,
                 source: Source, *, name: str = "PROSUMER", poll_interval: float = 0.01,
                 games: int = 0, on_game_end: Callable[[GameSummary], None] | None = None,
                 strategy: str = "best-response", log: Tagged | None = None) -> None:
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r} (one of {', '.join(STRATEGIES)})")
        self.strategy = strategy
        self.prosumer = prosumer
        self.reader = prosumer.reader
        self.me = prosumer.address
        self.follower = follower
        self.optimizer = optimizer
        self.source = source
        self.poll_interval = poll_interval
        self.games = games
        self.on_game_end = on_game_end
        self.log = log or tagged(name)
        self.tracks: dict[int, GameTrack] = {}
        self.finished: set[int] = set()  # games whose end was handled
        self.ended = 0
        self.running = False

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
        """How long to sleep before the next poll: the full rate when one of our turns is at
        most NEAR turns away or a request of ours is in flight; further away half the time the
        turns in between should take (at most SLOWEST); IDLE while a game we bid in is still
        registering; REST with no turn to come."""
        fast = self.poll_interval
        waits = [self._turn_wait(t) for t in self.tracks.values()
                 if t.role == "buyer" and t.bidding]
        if waits:
            return min(waits)
        if any(t.role == "buyer" for t in self.tracks.values()):
            return max(fast, IDLE)
        return max(fast, REST)

    def _turn_wait(self, track: GameTrack) -> float:
        fast = self.poll_interval
        if track.due is not None or track.pending is not None:
            return fast
        away = self._away(track)
        lead = OPENING_LEAD if self._wants_opening(track) else NEAR
        if away is None or away <= lead:
            return fast
        per_turn = max(fast, track.turn_seconds)
        return min(max(fast, SLOWEST), max(fast, 0.5 * (away - lead) * per_turn))

    def _count_turns(self, events: list[Event], now: float) -> None:
        """Learn how long a turn takes from the TurnStarted events each poll brings."""
        started: dict[int, int] = {}
        for e in events:
            if e.name == "TurnStarted" and e.game is not None:
                started[e.game] = started.get(e.game, 0) + 1
        for game_id, n in started.items():
            track = self.tracks.get(game_id)
            if track is None:
                continue
            if track.turn_seen:
                sample = (now - track.turn_seen) / n
                track.turn_seconds = (sample if not track.turn_seconds
                                      else 0.7 * track.turn_seconds + 0.3 * sample)
            track.turn_seen = now

    @staticmethod
    def _away(track: GameTrack) -> int | None:
        """Turns before ours in the track's game (None: not known)."""
        if track.ctx is None or track.current is None:
            return None
        return track.ctx.turns_until_mine(track.current)

    def stop(self) -> None:
        self.running = False

    def step(self) -> bool:
        """One poll: handle new events, due turns, unconfirmed requests. True if anything
        happened (the caller polls again at once)."""
        events = self.follower.poll()
        now = time.perf_counter()
        self._count_turns(events, now)
        for event in events:
            self.handle(event, now)
            if not self.running:
                return True
        busy = bool(events)
        for track in list(self.tracks.values()):
            if track.pending is not None and (events or now - track.pending.checked
                                              > PENDING_CHECK):
                self._check_pending(track)
            if (track.due is None and track.pending is None and track.bidding
                    and track.role == "buyer" and self._quiet(track, now)):
                self._schedule(track, now)  # a missed event must not cost the turn
            elif (track.role == "buyer" and not track.bidding and track.registration_end
                  and self._quiet(track, now)):
                self._check_registration(track, now)  # nor a missed RegistrationClosed
            if self._wants_opening(track) and now - track.opening_tried > HEARTBEAT:
                away = self._away(track)
                if away is None:  # no turn seen yet: the first round starts at position 0
                    away = track.ctx.position if track.ctx is not None else 0
                if away <= OPENING_LEAD:
                    self._open(track, now)
            if track.due is not None and track.due <= time.perf_counter():
                self._turn(track)
                busy = True
        return busy

    def _check_registration(self, track: GameTrack, now: float) -> None:
        """A registered buyer heard nothing for a heartbeat: once the registration window is
        over by the chain's clock, look at the game's phase, and play on if bidding began
        (or find the game over) without us seeing RegistrationClosed."""
        track.looked = now
        try:
            if self.reader.chain_time() < track.registration_end:
                return
            phase = self.reader.game(track.game_id).status.phase
        except (ProsumerError, LedgerError) as exc:
            self.log.warning(f"Could not read game {track.game_id}: {exc}")
            return
        if phase == "registration":
            return
        self.log.warning(f"Game {track.game_id} is past registration ({phase}) although no "
                         "RegistrationClosed event was seen; playing on")
        track.bidding = True
        if phase == "bidding":
            self._prepare(track)
        self._schedule(track, now)

    def _quiet(self, track: GameTrack, now: float) -> bool:
        """No news of the game and no look at it for a heartbeat: HEARTBEAT when our turn may
        be near, FAR_HEARTBEAT when many turns come first (a stalled game, e.g. a buyer that
        left and waits for the clock to skip it, must not make every buyer read the state)."""
        away = self._away(track)
        beat = HEARTBEAT if away is None or away <= NEAR else FAR_HEARTBEAT
        return now - max(track.looked, track.news) > beat

    def catch_up(self) -> None:
        """Join what is already under way: the last games' open registration or bidding."""
        count = self.reader.game_count()
        if not count:
            return
        chain_now = self.reader.chain_time()
        self.prosumer.sync_clock(chain_now)
        for game_id in range(max(1, count - 2), count + 1):
            info = self.reader.game(game_id)
            role = self.reader.participant(game_id, self.me).role
            phase = info.status.phase
            if role != "none" and phase in ("registration", "bidding"):
                track = self.tracks.setdefault(game_id, GameTrack(game_id, role=role))
                track.bidding = phase == "bidding"
                if role == "buyer" and track.bidding:
                    self._schedule(track, time.perf_counter())
            elif phase == "registration" and chain_now < info.params.registration_end:
                self._register(game_id, info.params.registration_end)

    # ------------------------------------------------------------------ events

    def handle(self, event: Event, now: float) -> None:
        name, args, game_id = event.name, event.args, event.game
        if game_id is None:
            return
        track = self.tracks.get(game_id)
        if track is not None:
            track.news = now
            if (track.role == "buyer" and not track.bidding
                    and name in ("TurnStarted", "BidSubmitted", "BidStood", "TurnSkipped")):
                # A turn event: bidding has begun, and RegistrationClosed went unseen.
                self.log.warning(f"Game {game_id} is bidding although no RegistrationClosed "
                                 "event was seen; playing on")
                track.bidding = True
                self._prepare(track)
        mine = str(args.get("buyer", "")).lower() == self.me.lower()
        if name == "GameOpened":
            self.log.info(f"Received GameOpened for game {game_id}")
            self._register(game_id, int(args["registrationEnd"]))
        elif track is None or track.role is None:
            if name == "GameEnded":
                self._ended_event(game_id, args, None)
        elif name == "RegistrationClosed":
            track.bidding = True
            self.log.info(f"Received RegistrationClosed for game {game_id}: "
                          f"{args['sellers']} sellers, {args['buyers']} buyers")
            if track.role == "buyer":
                self._prepare(track)
        elif name == "TurnStarted":
            track.current = str(args["buyer"])
            track.round = int(args["round"])
            if mine:
                self._schedule(track, now)
        elif name in ("BidSubmitted", "BidStood") and mine:
            self._confirmed(track, event, now)
        elif name == "TurnSkipped" and mine:
            self.log.warning(f"My turn in game {game_id} round {args['round']} expired and "
                             "was skipped; my previous bid stands")
            track.pending, track.due = None, None
        elif name == "GameEnded":
            self._ended_event(game_id, args, track)

    def _schedule(self, track: GameTrack, now: float) -> None:
        track.due = now
        track.noticed = now
        track.failures = 0

    def _confirmed(self, track: GameTrack, event: Event, now: float) -> None:
        pending, track.pending = track.pending, None
        if "amounts" in event.args:
            track.last_bid_wh = tuple(int(v) for v in event.args["amounts"])
        if pending is not None:
            track.turn_ms.append((now - pending.noticed) * 1000)
            self.log.debug(f"{pending.action.value} of game {track.game_id} round "
                           f"{event.args['round']} mined: turn {track.turn_ms[-1]:.1f} ms "
                           f"after it was noticed")

    def _ended_event(self, game_id: int, args: dict[str, Any], track: GameTrack | None) -> None:
        code = int(args["reason"])
        reason = END_REASONS[code] if code < len(END_REASONS) else f"unknown({code})"
        self._game_ended(game_id, reason, int(args["rounds"]), track)

    def _game_ended(self, game_id: int, reason: str, rounds: int, track: GameTrack | None,
                    how: str = "Received GameEnded") -> None:
        if game_id in self.finished:  # seen already (a state read found it before its event)
            return
        self.finished.add(game_id)
        self.log.info(f"{how} for game {game_id}: {reason} after {rounds} rounds")
        if track is not None:
            self.tracks.pop(game_id, None)
            if track.role == "buyer":
                self.log.verbose(f"Final bid in game {game_id}: "
                                 f"{kwh_list(wh_to_kwh(v) for v in track.last_bid_wh)}")
        if self.on_game_end is not None:
            self.on_game_end(_summary(game_id, reason, rounds, track))
        self.ended += 1
        if self.games and self.ended >= self.games:
            self.stop()

    # ------------------------------------------------------------------ registration

    def _register(self, game_id: int, registration_end: int) -> None:
        intent = self.source.intent(game_id, registration_end)
        if intent is None:
            self.log.info(f"Nothing to trade in game {game_id}: no surplus and no deficit")
            return
        track = self.tracks.setdefault(game_id, GameTrack(game_id))
        track.intent = intent
        track.registration_end = registration_end
        try:
            self.prosumer.sync_clock()
            if intent.role == "seller":
                assert intent.price is not None
                self.prosumer.offer(game_id, intent.kwh, intent.price)
                self.log.info(f"Published offer in game {game_id}: {kwh(intent.kwh)} kWh at "
                              f"{kwh(intent.price)}")
            else:
                self.prosumer.demand(game_id, intent.kwh)
                self.log.info(f"Published demand in game {game_id}: {kwh(intent.kwh)} kWh")
            track.role = intent.role
        except (ProsumerError, RelayError, LedgerError) as exc:
            self.log.error(f"Could not register in game {game_id}: {exc}")
            self.tracks.pop(game_id, None)

    # ------------------------------------------------------------------ turns

    def _prepare(self, track: GameTrack) -> None:
        """Once registration closed: the game's fixed terms (turn order, prices, hops)."""
        try:
            if track.ctx is None:  # before the first turn (same block) needs it
                track.ctx = TurnContext.load(self.reader, track.game_id, self.me)
        except (ProsumerError, LedgerError) as exc:
            self.log.warning(f"Could not prepare for game {track.game_id} yet: {exc}")

    def _wants_opening(self, track: GameTrack) -> bool:
        return (self.strategy == "equilibrium" and track.role == "buyer" and track.bidding
                and track.opening is None and track.round <= 1)

    def _open(self, track: GameTrack, now: float) -> None:
        """The `equilibrium` strategy's opening bid: this buyer's share of the equilibrium
        (see OPENING_LEAD for when). If it cannot be had, the first turn best-responds."""
        track.opening_tried = now
        self._prepare(track)
        if track.ctx is None:
            return
        try:
            track.opening = equilibrium_share(self.reader, self.optimizer, track.ctx)
        except (ProsumerError, LedgerError) as exc:
            self.log.warning(f"Could not compute my opening in game {track.game_id} yet: {exc}")
            return
        self.log.verbose(f"Opening with my share of the equilibrium in game {track.game_id}: "
                         f"{kwh_list(track.opening)}")

    def _best(self, query: BestResponseQuery) -> tuple[float, ...]:
        return self.optimizer.best_response(query).solution

    def _turn(self, track: GameTrack) -> None:
        if track.pending is not None:  # our request for this turn is on its way
            track.due = None
            return
        game_id = track.game_id
        if track.failures > RETRIES + GIVE_UP_AFTER_STANDING:
            self.log.error(f"Giving up this turn in game {game_id}; the clock will skip it")
            track.due = None
            return
        try:
            if track.ctx is None:
                track.ctx = TurnContext.load(self.reader, game_id, self.me)
            t0 = track.looked = time.perf_counter()
            state = self.reader.state(game_id)
            t1 = time.perf_counter()
            opening = track.opening  # computed in step() before the turn; None if that failed
            if track.failures < RETRIES and opening is not None and state.status.round == 1:
                decision = decide(track.ctx, state, self.me, lambda _: opening)
            elif track.failures < RETRIES:
                decision = decide(track.ctx, state, self.me, self._best)
            else:  # bidding keeps failing: keep the standing bid rather than miss the turn
                decision = fallback(state, self.me)
            t2 = time.perf_counter()
            if decision.action is Action.ENDED:  # its GameEnded event was missed
                track.due = None
                self._game_ended(game_id, state.status.end_reason, state.status.round, track,
                                 how="Found GameEnded")
                return
            if decision.action is Action.WAIT:
                track.due = None
                return
            self._log_turn(track, state, decision)
            if decision.action is Action.STAND:
                request = self.prosumer.stand(game_id)
            else:
                request = self.prosumer.bid(game_id, list(decision.bid_wh))
            t3 = time.perf_counter()
        except (ProsumerError, RelayError, LedgerError) as exc:
            track.failures += 1
            track.due = time.perf_counter() + 0.05 * track.failures
            self.log.error(f"Turn in game {game_id} failed (attempt {track.failures}): {exc}")
            return
        track.due = None
        track.pending = Pending(request, decision.action, state.status.round, track.noticed,
                                t3, t3)
        track.agent_ms.append((t3 - track.noticed) * 1000)
        sent = getattr(self.prosumer, "timings", {})
        self.log.debug(f"Turn timings in game {game_id}: noticed->state "
                       f"{(t0 - track.noticed) * 1000:.1f} ms, state {(t1 - t0) * 1000:.1f} ms, "
                       f"optimizer {(t2 - t1) * 1000:.1f} ms, sign+queue "
                       f"{(t3 - t2) * 1000:.1f} ms (estimate {sent.get('estimate', 0):.1f}, "
                       f"sign {sent.get('sign', 0):.1f}, queue {sent.get('queue', 0):.1f})")

    def _log_turn(self, track: GameTrack, state: GameState, decision: Decision) -> None:
        game_id, ctx = track.game_id, track.ctx
        assert ctx is not None
        self.log.info(f"Buyer playing in game {game_id} (round {state.status.round})")
        if decision.query is None:
            self.log.warning(f"Standing in game {game_id} after {track.failures} failed "
                             "attempts: my previous bid stands")
            return
        self.log.silly(f"Sellers used capacities: {kwh_list(decision.query.used_capacities)}")
        self.log.verbose(f"Optimized solution for demand of {kwh(wh_to_kwh(ctx.demand_wh))}: "
                         f"{kwh_list(decision.best_kwh)}")
        self.log.verbose(f"Previous solution: {kwh_list(state.current_bid)}")
        if decision.action is Action.STAND:
            self.log.info(f"Standing in game {game_id}: my best response moves at most "
                          f"{decision.change_wh} Wh (epsilon {ctx.epsilon_wh} Wh)")

    def _check_pending(self, track: GameTrack) -> None:
        pending = track.pending
        assert pending is not None
        pending.checked = time.perf_counter()
        try:
            outcome = self.prosumer.outcome(pending.request_id)
        except RelayError as exc:
            self.log.warning(f"Could not read request {pending.request_id}: {exc}")
            return
        if not outcome.final:
            return
        if outcome.status == "mined":
            if pending.checked - pending.sent > HEARTBEAT:  # its event was missed
                track.pending = None
                self._schedule(track, pending.checked)
            return  # else its event confirms it
        track.pending = None
        track.failures += 1
        track.due = time.perf_counter()
        why = outcome.error or outcome.reason or outcome.status
        self.log.error(f"{pending.action.value} in game {track.game_id} refused: {why}")


def _summary(game_id: int, reason: str, rounds: int, track: GameTrack | None) -> GameSummary:
    def mean(v: list[float]) -> float | None:
        return round(sum(v) / len(v), 3) if v else None

    intent = track.intent if track else None
    return GameSummary(
        game_id, reason, rounds, track.role if track else None,
        intent.kwh if intent else None, intent.price if intent else None,
        tuple(wh_to_kwh(v) for v in track.last_bid_wh) if track else (),
        len(track.turn_ms) if track else 0, mean(track.agent_ms) if track else None,
        mean(track.turn_ms) if track else None,
        round(max(track.turn_ms), 3) if track and track.turn_ms else None)


__all__ = ["STRATEGIES", "Action", "Agent", "BestResponseFn", "Decision", "GameSummary",
           "TurnContext", "decide", "equilibrium_share"]
