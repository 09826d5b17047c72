"""The agent without a chain: the pure decision function, and the event loop driven by fakes."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest

from ledger_contracts import Event
from prosumer_client import (
    Action,
    Agent,
    BestResponse,
    BestResponseQuery,
    Demand,
    Fixed,
    GameInfo,
    GameParams,
    GamePrices,
    GameState,
    GameStatus,
    GameSummary,
    Offer,
    Participation,
    Refused,
    Source,
    TurnContext,
    decide,
    pacing,
)
from prosumer_client.logs import tagged
from prosumer_client.tracking import GameTrack

ME = "0x00000000000000000000000000000000000000A1"
OTHER = "0x00000000000000000000000000000000000000B2"
BUYER = Fixed("buyer", 20.0)
CTX = TurnContext(
    game_id=3,
    demand_wh=20_000,
    prices=(0.08, 0.07),
    caps_wh=(40_000, 30_000),
    hops=(0, 1),
    fee=0.02,
    grid=0.25,
    epsilon_wh=5,
)


def status(phase: str = "bidding", round_: int = 1) -> GameStatus:
    return GameStatus(phase, "converged" if phase == "ended" else "none", 2, 2, round_, 0, 0, 0)


def state(
    buyer: str | None = ME,
    loads: tuple[int, ...] = (5_000, 3_000),
    bid: tuple[int, ...] = (0, 0),
    phase: str = "bidding",
) -> GameState:
    return GameState(3, status(phase), buyer, loads, bid)


def fixed(*kwh: float):  # type: ignore[no-untyped-def]
    calls: list[BestResponseQuery] = []

    def best(query: BestResponseQuery) -> Sequence[float]:
        calls.append(query)
        return kwh

    best.calls = calls  # type: ignore[attr-defined]
    return best


def test_not_my_turn_waits_and_an_ended_game_ends() -> None:
    never = fixed()
    assert decide(CTX, state(buyer=OTHER), ME, never).action is Action.WAIT
    assert decide(CTX, state(buyer=None, phase="registration"), ME, never).action is Action.WAIT
    assert decide(CTX, state(buyer=None, phase="ended"), ME, never).action is Action.ENDED
    assert never.calls == []  # type: ignore[attr-defined]


def test_my_turn_bids_the_best_response_in_whole_wh() -> None:
    best = fixed(12.3456789, 7.6543)
    decision = decide(CTX, state(buyer=ME.lower(), bid=(1_000, 0)), ME, best)
    assert decision.action is Action.BID
    assert decision.bid_wh == (12_345, 7_654)  # rounded down
    assert decision.change_wh == 11_345
    query = best.calls[0]  # type: ignore[attr-defined]
    assert query.buyer_demand == 20.0
    assert query.used_capacities == (4.0, 3.0)  # loads minus my own bid
    assert query.sellers_capacity == (40.0, 30.0)
    assert query.hop_distances == (0.0, 1.0)
    assert query.grid_price == 0.25 and query.transmission_cost_per_hop == 0.02


def test_a_best_response_within_epsilon_stands() -> None:
    current = (12_000, 8_000)
    still = decide(CTX, state(bid=current, loads=(20_000, 9_000)), ME, fixed(12.005, 7.995))
    assert still.action is Action.STAND and still.change_wh == 5
    moved = decide(CTX, state(bid=current, loads=(20_000, 9_000)), ME, fixed(12.006, 7.994))
    assert moved.action is Action.BID and moved.change_wh == 6


def test_a_bid_never_exceeds_demand_nor_free_capacity() -> None:
    ctx = replace(CTX, demand_wh=10_000, caps_wh=(4_000, 30_000))
    # The others take 3000 of seller 0's 4000 Wh; float noise asks a little more.
    decision = decide(ctx, state(loads=(3_000, 0)), ME, fixed(1.0000004, 9.0000001))
    assert decision.bid_wh == (1_000, 9_000)
    over = decide(ctx, state(loads=(0, 0)), ME, fixed(3.0000009, 7.0000009))
    assert sum(over.bid_wh) <= 10_000


# ---------------------------------------------------------------------- the loop


class FakeReader:
    def __init__(self) -> None:
        self.current = state(buyer=OTHER)
        self.reads = 0

    def game_count(self) -> int:
        return 0

    def chain_time(self) -> int:
        return 1_000

    def game(self, game_id: int) -> GameInfo:
        return GameInfo(
            game_id,
            GameParams(2_000, 3_000, 10, 60, 5),
            GamePrices(250_000, 50_000, 20_000),
            self.current.status,
        )

    def state(self, game_id: int) -> GameState:
        self.reads += 1
        return self.current

    def offers(self, game_id: int) -> list[Offer]:
        return [Offer(0, OTHER, 40_000, 80_000), Offer(1, OTHER, 30_000, 70_000)]

    def demands(self, game_id: int) -> list[Demand]:
        return [Demand(0, ME, 20_000)]

    def hops_to_sellers(self, game_id: int, address: str) -> tuple[int, ...]:
        return (0, 1)

    def hops_of(self, game_id: int, accounts: list[str]) -> list[tuple[int, ...]]:
        return [self.hops_to_sellers(game_id, a) for a in accounts]

    def participant(self, game_id: int, address: str) -> Participation:
        return Participation("none", 0)


class FakeProsumer:
    address = ME

    def __init__(self) -> None:
        self.reader = FakeReader()
        self.sent: list[tuple[str, Any]] = []
        self.bound: list[tuple[int, int]] = []  # (round, turn) each bid or stand was sent for
        self.fail_bids = 0

    def sync_clock(self, chain_time: int | None = None) -> None:
        pass

    def demand(self, game_id: int, kwh: float) -> None:
        self.sent.append(("demand", (game_id, kwh)))

    def offer(self, game_id: int, kwh: float, price: float) -> None:
        self.sent.append(("offer", (game_id, kwh, price)))

    def bid(self, game_id: int, round_: int, turn: int, wh: list[int]) -> int:
        if self.fail_bids:
            self.fail_bids -= 1
            raise Refused("bid", "MarketBidExceedsCapacity(seller=0, load=1, capacity=0)")
        self.sent.append(("bid", (game_id, wh)))
        self.bound.append((round_, turn))
        return len(self.sent)

    def stand(self, game_id: int, round_: int, turn: int) -> int:
        self.sent.append(("stand", game_id))
        self.bound.append((round_, turn))
        return len(self.sent)

    def outcome(self, request_id: int) -> Any:
        return SimpleNamespace(final=True, status="mined", error=None, reason=None)


class FakeFollower:
    def __init__(self) -> None:
        self.batches: list[list[Event]] = []

    def poll(self) -> list[Event]:
        return self.batches.pop(0) if self.batches else []


class FakeOptimizer:
    def __init__(self, *solution: float) -> None:
        self.solution = solution
        self.asked: list[Any] = []

    def best_response(self, query: BestResponseQuery) -> BestResponse:
        return BestResponse(self.solution, 0.0, 1.0, "exact")

    def equilibrium(self, *args: Any) -> list[list[float]]:
        self.asked.append(args)
        return [[11.0, 9.0]]


def ev(name: str, block: int, **args: Any) -> Event:
    return Event(block, "0x", 0, "Market", name, {"gameId": 3, **args})


def agent_of(
    optimizer: FakeOptimizer | None = None,
    reader: FakeReader | None = None,
    source: Source = BUYER,
    log: str = "P001",
    **options: Any,
) -> tuple[Agent, FakeProsumer, FakeFollower]:
    """An agent on fakes (P001, a buyer of 20 kWh, best response 12.5 + 7.5 by default)."""
    prosumer, follower = FakeProsumer(), FakeFollower()
    if reader is not None:
        prosumer.reader = reader
    agent = Agent(
        prosumer,
        follower,
        optimizer or FakeOptimizer(12.5, 7.5),  # type: ignore[arg-type]
        source,
        log=tagged(log),
        **options,
    )
    return agent, prosumer, follower


def registered(
    optimizer: FakeOptimizer | None = None, reader: FakeReader | None = None, **options: Any
) -> tuple[Agent, FakeProsumer, FakeFollower]:
    """A running agent (by default the buyer of `agent_of`) that saw game 3 open and
    published its offer or demand."""
    agent, prosumer, follower = agent_of(optimizer, reader, **options)
    agent.running = True
    follower.batches.append([ev("GameOpened", 1, registrationEnd=2_000)])
    agent.step()
    return agent, prosumer, follower


def test_a_bid_and_a_stand_name_the_turn_of_the_state_they_were_decided_on() -> None:
    agent, prosumer, follower = registered()
    prosumer.reader.current = GameState(
        3, GameStatus("bidding", "none", 2, 2, 4, 1, 0, 0), ME, (0, 0), (0, 0)
    )
    follower.batches.append(
        [
            ev("RegistrationClosed", 2, sellers=2, buyers=1),
            ev("TurnStarted", 2, round=4, buyer=ME, deadline=9),
        ]
    )
    agent.step()
    assert prosumer.sent[-1] == ("bid", (3, [12_500, 7_500])) and prosumer.bound == [(4, 1)]

    prosumer.reader.current = GameState(
        3, GameStatus("bidding", "none", 2, 2, 5, 1, 0, 0), ME, (12_500, 7_500), (12_500, 7_500)
    )
    follower.batches.append(
        [
            ev("BidSubmitted", 3, buyer=ME, round=4, amounts=[12_500, 7_500]),
            ev("TurnStarted", 4, round=5, buyer=ME, deadline=9),
        ]
    )
    agent.step()
    assert prosumer.sent[-1] == ("stand", 3) and prosumer.bound == [(4, 1), (5, 1)]


def test_the_agent_registers_bids_stands_and_stops_after_its_game() -> None:
    summaries: list[GameSummary] = []
    agent, prosumer, follower = registered(games=1, on_game_end=summaries.append)
    assert prosumer.sent == [("demand", (3, 20.0))]

    prosumer.reader.current = state(buyer=ME, loads=(0, 0))
    follower.batches.append(
        [
            ev("RegistrationClosed", 2, sellers=2, buyers=1),
            ev("TurnStarted", 2, round=1, buyer=ME, deadline=9),
        ]
    )
    agent.step()
    assert prosumer.sent[-1] == ("bid", (3, [12_500, 7_500]))

    # Someone else's turn: no state read, nothing sent.
    reads = prosumer.reader.reads
    follower.batches.append(
        [
            ev("BidSubmitted", 3, buyer=ME, round=1, amounts=[12_500, 7_500]),
            ev("TurnStarted", 3, round=2, buyer=OTHER, deadline=9),
        ]
    )
    agent.step()
    assert prosumer.reader.reads == reads and len(prosumer.sent) == 2

    prosumer.reader.current = state(buyer=ME, loads=(12_500, 7_500), bid=(12_500, 7_500))
    follower.batches.append([ev("TurnStarted", 4, round=2, buyer=ME, deadline=9)])
    agent.step()
    assert prosumer.sent[-1] == ("stand", 3)

    follower.batches.append(
        [ev("BidStood", 5, buyer=ME, round=2), ev("GameEnded", 5, rounds=2, reason=1)]
    )
    agent.step()
    assert not agent.running and agent.ended == 1
    (summary,) = summaries
    assert summary.reason == "converged" and summary.rounds == 2 and summary.role == "buyer"
    assert summary.turns == 2 and summary.bid_kwh == (12.5, 7.5)


def test_a_game_sat_out_counts_and_is_summarised_without_a_role() -> None:
    summaries: list[GameSummary] = []
    agent, prosumer, follower = agent_of(games=2, on_game_end=summaries.append)
    agent.running = True
    follower.batches.append(
        [Event(4, "0x", 0, "Market", "GameEnded", {"gameId": 7, "rounds": 0, "reason": 9})]
    )
    agent.step()
    assert agent.ended == 1 and agent.running and prosumer.sent == []
    (summary,) = summaries
    assert summary.to_dict() == {
        "event": "game_ended",
        "game": 7,
        "reason": "unknown(9)",
        "rounds": 0,
        "role": None,
        "kwh": None,
        "price": None,
        "bid_kwh": [],
        "turns": 0,
        "agent_ms_mean": None,
        "turn_ms_mean": None,
        "turn_ms_max": None,
    }


def test_a_refused_bid_is_retried_then_the_agent_stands() -> None:
    agent, prosumer, follower = registered()
    prosumer.reader.current = state(buyer=ME, loads=(0, 0))
    prosumer.fail_bids = 3
    follower.batches.append(
        [
            ev("RegistrationClosed", 2, sellers=2, buyers=1),
            ev("TurnStarted", 2, round=1, buyer=ME, deadline=9),
        ]
    )
    deadline = time.monotonic() + 5  # retries back off 50, 100, 150 ms
    while prosumer.sent[-1][0] != "stand" and time.monotonic() < deadline:
        agent.step()
        time.sleep(0.005)
    assert prosumer.sent[-1] == ("stand", 3)
    assert prosumer.fail_bids == 0


@pytest.mark.parametrize("role", ["seller", "buyer"])
def test_a_game_that_opens_is_joined_with_the_sources_intent(role: str) -> None:
    source = Fixed("seller", 40.0, 0.08) if role == "seller" else Fixed("buyer", 9.5)
    agent, prosumer, _ = registered(FakeOptimizer(), source=source, log="S001")
    expected = ("offer", (3, 40.0, 0.08)) if role == "seller" else ("demand", (3, 9.5))
    assert prosumer.sent == [expected]
    assert agent.tracks[3].role == role


def test_the_equilibrium_strategy_opens_with_the_buyers_share_then_best_responds() -> None:
    optimizer = FakeOptimizer(12.5, 7.5)
    agent, prosumer, follower = registered(optimizer, strategy="equilibrium")
    prosumer.reader.current = state(buyer=ME, loads=(0, 0))
    follower.batches.append(
        [
            ev("RegistrationClosed", 2, sellers=2, buyers=1),
            ev("TurnStarted", 2, round=1, buyer=ME, deadline=9),
        ]
    )
    agent.step()
    assert prosumer.sent[-1] == ("bid", (3, [11_000, 9_000]))  # the equilibrium share
    (asked,) = optimizer.asked
    assert asked == ([20.0], (0.08, 0.07), [40.0, 30.0], [[0.0, 1.0]], 0.02, 0.25)
    prosumer.reader.current = replace(
        state(buyer=ME, loads=(11_000, 9_000), bid=(11_000, 9_000)), status=status(round_=2)
    )
    follower.batches.append(
        [
            ev("BidSubmitted", 3, buyer=ME, round=1, amounts=[11_000, 9_000]),
            ev("TurnStarted", 3, round=2, buyer=ME, deadline=9),
        ]
    )
    agent.step()
    assert prosumer.sent[-1] == ("bid", (3, [12_500, 7_500]))  # then best responses
    with pytest.raises(ValueError, match="unknown strategy 'greedy'"):
        Agent(
            prosumer,
            follower,
            optimizer,
            Fixed("buyer", 1.0),  # type: ignore[arg-type]
            strategy="greedy",
        )


class CrowdReader(FakeReader):
    """Twelve buyers play before ME."""

    FIRST = tuple(f"0x{k:040X}" for k in range(1, 13))

    def demands(self, game_id: int) -> list[Demand]:
        return [*(Demand(k, a, 10_000) for k, a in enumerate(self.FIRST)), Demand(12, ME, 20_000)]


class CrowdOptimizer(FakeOptimizer):
    def equilibrium(self, *args: Any) -> list[list[float]]:
        self.asked.append(args)
        return [[5.0, 5.0]] * 12 + [[11.0, 9.0]]


def test_the_equilibrium_opening_is_computed_a_few_turns_ahead_not_when_bidding_begins() -> None:
    first = CrowdReader.FIRST
    optimizer = CrowdOptimizer(12.5, 7.5)
    agent, prosumer, follower = registered(optimizer, CrowdReader(), strategy="equilibrium")
    follower.batches.append(
        [
            ev("RegistrationClosed", 2, sellers=2, buyers=13),
            ev("TurnStarted", 2, round=1, buyer=first[0], deadline=9),
        ]
    )
    agent.step()  # 12 turns before ours: not yet
    assert optimizer.asked == [] and agent.tracks[3].ctx is not None
    assert agent.interval() > agent.poll_interval  # and no need to poll at the full rate
    follower.batches.append([ev("TurnStarted", 3, round=1, buyer=first[3], deadline=9)])
    agent.step()  # 9 turns before ours
    assert optimizer.asked == []
    follower.batches.append([ev("TurnStarted", 4, round=1, buyer=first[4], deadline=9)])
    agent.step()  # OPENING_LEAD (8) turns before ours: now
    assert len(optimizer.asked) == 1 and agent.tracks[3].opening == (11.0, 9.0)
    prosumer.reader.current = state(buyer=ME, loads=(0, 0))
    follower.batches.append([ev("TurnStarted", 5, round=1, buyer=ME, deadline=9)])
    agent.step()
    assert prosumer.sent[-1] == ("bid", (3, [11_000, 9_000])) and len(optimizer.asked) == 1

    # A buyer that slept past its lead (the poll brings its own turn) computes it on its turn.
    optimizer = CrowdOptimizer(12.5, 7.5)
    agent, prosumer, follower = registered(optimizer, CrowdReader(), strategy="equilibrium")
    follower.batches.append(
        [
            ev("RegistrationClosed", 2, sellers=2, buyers=13),
            ev("TurnStarted", 2, round=1, buyer=first[0], deadline=9),
        ]
    )
    agent.step()
    prosumer.reader.current = state(buyer=ME, loads=(0, 0))
    follower.batches.append(
        [
            ev("TurnStarted", 3, round=1, buyer=first[11], deadline=9),
            ev("TurnStarted", 3, round=1, buyer=ME, deadline=9),
        ]
    )
    assert optimizer.asked == []
    agent.step()
    assert prosumer.sent[-1] == ("bid", (3, [11_000, 9_000])) and len(optimizer.asked) == 1


def test_a_missed_game_end_is_found_by_reading_the_state_and_counted_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pacing, "HEARTBEAT", 0.0)
    summaries: list[GameSummary] = []
    agent, prosumer, follower = registered(games=2, on_game_end=summaries.append)
    follower.batches.append([ev("RegistrationClosed", 2, sellers=2, buyers=1)])
    agent.step()
    # The GameEnded event is lost; the heartbeat's state read finds the game over.
    prosumer.reader.current = replace(
        state(buyer=None, phase="ended"), status=replace(status("ended"), round=4)
    )
    agent.step()
    assert agent.ended == 1 and 3 not in agent.tracks
    assert summaries[0].reason == "converged" and summaries[0].rounds == 4
    follower.batches.append([ev("GameEnded", 9, rounds=4, reason=1)])  # late after all
    agent.step()
    assert agent.ended == 1 and len(summaries) == 1 and agent.running


def test_a_mined_request_whose_event_was_missed_does_not_block_the_next_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pacing, "HEARTBEAT", 0.0)
    monkeypatch.setattr(pacing, "PENDING_CHECK", 0.0)
    agent, prosumer, follower = registered()
    prosumer.reader.current = state(buyer=ME, loads=(0, 0))
    follower.batches.append(
        [
            ev("RegistrationClosed", 2, sellers=2, buyers=1),
            ev("TurnStarted", 2, round=1, buyer=ME, deadline=9),
        ]
    )
    agent.step()
    assert prosumer.sent[-1][0] == "bid" and agent.tracks[3].pending is not None
    # Its BidSubmitted and the next TurnStarted are lost; the queue says it was mined.
    prosumer.reader.current = replace(
        state(buyer=ME, loads=(12_500, 7_500), bid=(12_500, 7_500)), status=status(round_=2)
    )
    for _ in range(3):
        agent.step()
    assert prosumer.sent[-1] == ("stand", 3)


def test_polls_slow_down_with_the_turns_before_ours_and_far_buyers_leave_the_state_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pacing, "HEARTBEAT", 0.0)  # near our turn: a look at every poll
    others = [f"0x{i:040x}" for i in range(1, 100)]
    ctx = replace(CTX, order=(*others, ME.lower()), position=99)
    agent, prosumer, follower = agent_of(poll_interval=0.01)
    assert agent.interval() == pacing.REST  # no game: at rest
    track = agent.tracks[3] = GameTrack(3, role="buyer", ctx=ctx)
    assert agent.interval() == pacing.IDLE  # registered, bidding about to begin
    track.bidding = True
    assert agent.interval() == 0.01  # whose turn it is not known yet: full rate
    track.current = others[97]  # 2 turns before ours: the full rate
    assert agent.interval() == 0.01
    track.current = others[90]  # 9 turns, turn time not known yet: one full-rate interval...
    assert agent.interval() == pytest.approx(0.5 * 7 * 0.01)
    # ... and once turns were seen going by (3 in 0.3 s), half the time 7 turns take.
    starts = [ev("TurnStarted", 5, round=1, buyer=o, deadline=9) for o in others[88:91]]
    pacing.count_turns(agent.tracks, starts, 10.0)
    pacing.count_turns(agent.tracks, starts, 10.3)
    assert track.turn_seconds == pytest.approx(0.1)
    assert agent.interval() == pytest.approx(0.5 * 7 * 0.1)
    track.current = others[0]  # 99 turns: at most SLOWEST
    assert agent.interval() == pacing.SLOWEST
    track.due = 1.0  # our turn is due: full rate whatever
    assert agent.interval() == 0.01
    track.due = None

    # Far from its turn, with news flowing, a buyer does not read the state ...
    track.current = others[0]
    track.news = time.perf_counter()
    agent.running = True
    agent.step()
    assert prosumer.reader.reads == 0 and track.due is None
    # ... but near it, the heartbeat looks (a TurnStarted of ours may have been missed).
    track.current = others[98]
    agent.step()
    assert prosumer.reader.reads == 1


def test_a_missed_registration_closed_is_made_up_for(monkeypatch: pytest.MonkeyPatch) -> None:
    # By a later turn event of the game: it proves bidding began.
    agent, prosumer, follower = registered(strategy="equilibrium")
    follower.batches.append([ev("BidSubmitted", 3, buyer=OTHER, round=1, amounts=[1, 2])])
    agent.step()
    track = agent.tracks[3]
    assert track.bidding and track.ctx is not None and track.opening == (11.0, 9.0)

    # By the heartbeat, when nothing at all comes (our own first turn's block was missed):
    # once the chain's clock is past the registration end, the game's phase is read.
    monkeypatch.setattr(pacing, "HEARTBEAT", 0.0)
    agent, prosumer, follower = registered()
    prosumer.reader.current = replace(state(buyer=ME, loads=(0, 0)), status=status("registration"))
    agent.step()  # the chain's time (1_000) is before the registration end: nothing read
    assert not agent.tracks[3].bidding and prosumer.sent == [("demand", (3, 20.0))]
    prosumer.reader.chain_time = lambda: 2_000  # type: ignore[method-assign]
    agent.step()  # still registering on chain
    assert not agent.tracks[3].bidding
    prosumer.reader.current = state(buyer=ME, loads=(0, 0))
    agent.step()  # bidding, and it is our turn
    agent.step()
    assert agent.tracks[3].bidding and prosumer.sent[-1] == ("bid", (3, [12_500, 7_500]))
