"""When the agent looks: how long it sleeps between polls, when a quiet game is worth a read of
its state, when to check on a request and when to compute the `equilibrium` opening.

Every prosumer is its own process, so at 200 buyers the polls themselves are the load. The full
rate only when a turn of ours is near; further away, a sleep of half the time the turns in
between should take (as this agent has seen turns go by); a registered buyer waiting for
bidding to begin at IDLE; sellers and agents between games at REST.

The figures are read when used, so a test may change them on this module.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger_contracts import Event

from .tracking import GameTrack, Pending

PENDING_CHECK = 0.25  # s between outcome checks of a request whose event has not come
HEARTBEAT = 1.0  # s without news of a game after which a bidding buyer reads its state anyway
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


class Pacer:
    """The agent's timing, for its `poll_interval` (the full rate) and its strategy."""

    def __init__(self, poll_interval: float, strategy: str) -> None:
        self.poll_interval = poll_interval
        self.strategy = strategy

    def interval(self, tracks: Iterable[GameTrack]) -> float:
        """How long to sleep before the next poll: the full rate when one of our turns is at
        most NEAR turns away or a request of ours is in flight; further away half the time the
        turns in between should take (at most SLOWEST); IDLE while a game we bid in is still
        registering; REST with no turn to come."""
        tracks = list(tracks)
        fast = self.poll_interval
        waits = [self._turn_wait(t) for t in tracks if t.role == "buyer" and t.bidding]
        if waits:
            return min(waits)
        if any(t.role == "buyer" for t in tracks):
            return max(fast, IDLE)
        return max(fast, REST)

    def _turn_wait(self, track: GameTrack) -> float:
        fast = self.poll_interval
        if track.due is not None or track.pending is not None:
            return fast
        away = track.away()
        lead = OPENING_LEAD if self.wants_opening(track) else NEAR
        if away is None or away <= lead:
            return fast
        per_turn = max(fast, track.turn_seconds)
        return min(max(fast, SLOWEST), max(fast, 0.5 * (away - lead) * per_turn))

    def wants_opening(self, track: GameTrack) -> bool:
        """The `equilibrium` strategy's opening is still to be computed for this game."""
        return (
            self.strategy == "equilibrium"
            and track.role == "buyer"
            and track.bidding
            and track.opening is None
            and track.round <= 1
        )

    def opening_due(self, track: GameTrack, now: float) -> bool:
        """Time to compute the opening: wanted, not tried for a heartbeat, and our first turn
        at most OPENING_LEAD turns away."""
        if not self.wants_opening(track) or now - track.opening_tried <= HEARTBEAT:
            return False
        away = track.away()
        if away is None:  # no turn seen yet: the first round starts at position 0
            away = track.ctx.position if track.ctx is not None else 0
        return away <= OPENING_LEAD


def count_turns(tracks: dict[int, GameTrack], events: list[Event], now: float) -> None:
    """Learn how long a turn takes from the TurnStarted events each poll brings."""
    started: dict[int, int] = {}
    for e in events:
        if e.name == "TurnStarted" and e.game is not None:
            started[e.game] = started.get(e.game, 0) + 1
    for game_id, n in started.items():
        track = tracks.get(game_id)
        if track is None:
            continue
        if track.turn_seen:
            sample = (now - track.turn_seen) / n
            track.turn_seconds = (
                sample if not track.turn_seconds else 0.7 * track.turn_seconds + 0.3 * sample
            )
        track.turn_seen = now


def quiet(track: GameTrack, now: float) -> bool:
    """No news of the game and no look at it for a heartbeat: HEARTBEAT when our turn may be
    near, FAR_HEARTBEAT when many turns come first (a stalled game, e.g. a buyer that left and
    waits for the clock to skip it, must not make every buyer read the state)."""
    away = track.away()
    beat = HEARTBEAT if away is None or away <= NEAR else FAR_HEARTBEAT
    return now - max(track.looked, track.news) > beat


def check_due(pending: Pending, now: float, news: bool) -> bool:
    """Time to ask the queue about a request: the poll brought events, or PENDING_CHECK passed."""
    return news or now - pending.checked > PENDING_CHECK


def event_missed(pending: Pending) -> bool:
    """A request the queue says was mined, still unconfirmed by its event a heartbeat after it
    was sent: the event was missed."""
    return pending.checked - pending.sent > HEARTBEAT
