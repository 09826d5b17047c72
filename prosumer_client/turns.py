"""A buyer's turns: reads the turn's state in one call, decides (`decision.decide`) with the
optimizer's best response or the `equilibrium` opening, queues the bid or the stand without
waiting for it to be mined, and follows that request until its event or the queue confirms
it. A refused bid is retried (RETRIES times), then the buyer stands."""

from __future__ import annotations

import time

from ledger_contracts import Event, LedgerError, wh_to_kwh
from tx_queue.errors import RelayError

from . import pacing
from .client import Prosumer
from .decision import Action, Decision, TurnContext, decide, equilibrium_share, fallback
from .errors import ProsumerError
from .logs import Tagged, kwh, kwh_list
from .market import GameState
from .solver import BestResponseQuery, OptimizerClient
from .tracking import GameTrack, Pending

RETRIES = 3  # failed attempts at one turn before standing instead
GIVE_UP_AFTER_STANDING = 2  # failed attempts at standing before leaving it to the clock


class Turns:
    """Plays one prosumer's turns in the games it tracks."""

    def __init__(self, prosumer: Prosumer, optimizer: OptimizerClient, log: Tagged) -> None:
        self.prosumer = prosumer
        self.reader = prosumer.reader
        self.me = prosumer.address
        self.optimizer = optimizer
        self.log = log

    def prepare(self, track: GameTrack) -> None:
        """Once registration closed: the game's fixed terms (turn order, prices, hops)."""
        try:
            if track.ctx is None:  # before the first turn (same block) needs it
                track.ctx = TurnContext.load(self.reader, track.game_id, self.me)
        except (ProsumerError, LedgerError) as exc:
            self.log.warning(f"Could not prepare for game {track.game_id} yet: {exc}")

    def open(self, track: GameTrack, now: float) -> None:
        """The `equilibrium` strategy's opening bid: this buyer's share of the equilibrium
        (see `pacing.OPENING_LEAD` for when). If it cannot be had, the first turn
        best-responds."""
        track.opening_tried = now
        self.prepare(track)
        if track.ctx is None:
            return
        try:
            track.opening = equilibrium_share(self.reader, self.optimizer, track.ctx)
        except (ProsumerError, LedgerError) as exc:
            self.log.warning(f"Could not compute my opening in game {track.game_id} yet: {exc}")
            return
        self.log.verbose(
            f"Opening with my share of the equilibrium in game {track.game_id}: "
            f"{kwh_list(track.opening)}"
        )

    def play(self, track: GameTrack) -> GameState | None:
        """The turn that is due: bid or stand, or nothing if it is not ours (yet). Returns the
        state if it shows the game over (its GameEnded event was missed)."""
        if track.pending is not None:  # our request for this turn is on its way
            track.due = None
            return None
        game_id = track.game_id
        if track.failures > RETRIES + GIVE_UP_AFTER_STANDING:
            self.log.error(f"Giving up this turn in game {game_id}; the clock will skip it")
            track.due = None
            return None
        try:
            if track.ctx is None:
                track.ctx = TurnContext.load(self.reader, game_id, self.me)
            t0 = track.looked = time.perf_counter()
            state = self.reader.state(game_id)
            t1 = time.perf_counter()
            decision = self._decide(track, track.ctx, state)
            t2 = time.perf_counter()
            if decision.action is Action.ENDED:
                track.due = None
                return state
            if decision.action is Action.WAIT:
                track.due = None
                return None
            self._log_turn(track, state, decision)
            # Bound to the turn decided on: landing in any other turn, it is refused.
            round_, turn = state.status.round, state.status.turn
            if decision.action is Action.STAND:
                request = self.prosumer.stand(game_id, round_, turn)
            else:
                request = self.prosumer.bid(game_id, round_, turn, list(decision.bid_wh))
            t3 = time.perf_counter()
        except (ProsumerError, RelayError, LedgerError) as exc:
            track.failures += 1
            track.due = time.perf_counter() + 0.05 * track.failures
            self.log.error(f"Turn in game {game_id} failed (attempt {track.failures}): {exc}")
            return None
        track.due = None
        track.pending = Pending(request, decision.action, state.status.round, track.noticed, t3, t3)
        track.agent_ms.append((t3 - track.noticed) * 1000)
        sent = getattr(self.prosumer, "timings", {})
        self.log.debug(
            f"Turn timings in game {game_id}: noticed->state "
            f"{(t0 - track.noticed) * 1000:.1f} ms, state {(t1 - t0) * 1000:.1f} ms, "
            f"optimizer {(t2 - t1) * 1000:.1f} ms, sign+queue "
            f"{(t3 - t2) * 1000:.1f} ms (estimate {sent.get('estimate', 0):.1f}, "
            f"sign {sent.get('sign', 0):.1f}, queue {sent.get('queue', 0):.1f})"
        )
        return None

    def _decide(self, track: GameTrack, ctx: TurnContext, state: GameState) -> Decision:
        opening = track.opening  # computed by `open` before the turn; None if that failed
        if track.failures < RETRIES and opening is not None and state.status.round == 1:
            return decide(ctx, state, self.me, lambda _: opening)
        if track.failures < RETRIES:
            return decide(ctx, state, self.me, self._best)
        # bidding keeps failing: keep the standing bid rather than miss the turn
        return fallback(state, self.me)

    def _best(self, query: BestResponseQuery) -> tuple[float, ...]:
        return self.optimizer.best_response(query).solution

    def _log_turn(self, track: GameTrack, state: GameState, decision: Decision) -> None:
        game_id, ctx = track.game_id, track.ctx
        assert ctx is not None
        self.log.info(f"Buyer playing in game {game_id} (round {state.status.round})")
        if decision.query is None:
            self.log.warning(
                f"Standing in game {game_id} after {track.failures} failed "
                "attempts: my previous bid stands"
            )
            return
        self.log.silly(f"Sellers used capacities: {kwh_list(decision.query.used_capacities)}")
        self.log.verbose(
            f"Optimized solution for demand of {kwh(wh_to_kwh(ctx.demand_wh))}: "
            f"{kwh_list(decision.best_kwh)}"
        )
        self.log.verbose(f"Previous solution: {kwh_list(state.current_bid)}")
        if decision.action is Action.STAND:
            self.log.info(
                f"Standing in game {game_id}: my best response moves at most "
                f"{decision.change_wh} Wh (epsilon {ctx.epsilon_wh} Wh)"
            )

    def confirmed(self, track: GameTrack, event: Event, now: float) -> None:
        """Our BidSubmitted or BidStood: the turn is done."""
        pending, track.pending = track.pending, None
        if "amounts" in event.args:
            track.last_bid_wh = tuple(int(v) for v in event.args["amounts"])
        if pending is not None:
            track.turn_ms.append((now - pending.noticed) * 1000)
            self.log.debug(
                f"{pending.action.value} of game {track.game_id} round "
                f"{event.args['round']} mined: turn {track.turn_ms[-1]:.1f} ms "
                f"after it was noticed"
            )

    def check_pending(self, track: GameTrack) -> None:
        """Ask the queue about our request: refused or failed, the turn is tried again; mined
        but its event missed, the turn is looked at again."""
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
            if pacing.event_missed(pending):
                track.pending = None
                track.schedule(pending.checked)
            return  # else its event confirms it
        track.pending = None
        track.failures += 1
        track.due = time.perf_counter()
        why = outcome.error or outcome.reason or outcome.status
        self.log.error(f"{pending.action.value} in game {track.game_id} refused: {why}")
