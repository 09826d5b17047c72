"""The agent in-process against the chain and the queue: with a profile, it publishes the net
energy of the period that contains the game's delivery start."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ledger_contracts import Rpc, kwh_to_wh
from prosumer_client.agent import Agent
from prosumer_client.client import Prosumer
from prosumer_client.follower import Follower
from prosumer_client.market import MarketReader
from prosumer_client.profiles import Profile
from prosumer_client.solver import OptimizerClient
from prosumer_client.sources import FromProfile
from tx_queue.client import RelayClient

EXAMPLE = Path(__file__).resolve().parents[2] / "prosumer_client/profiles/building_15min.csv"
HOUSE = 15  # dev key of an admitted buyer with tokens


def test_a_profile_agent_publishes_its_periods_net_energy(prosumer_market: Any) -> None:
    m = prosumer_market
    reader = MarketReader(m.w3, m.deployment)
    prosumer = Prosumer(RelayClient(m.queue_url, m.w3, m.deployment, m.keys[HOUSE]), reader)
    source = FromProfile(Profile.load(EXAMPLE), price=0.07, scale=10.0)
    optimizer = OptimizerClient(m.optimizer_url)
    follower = Follower(reader.rpc, m.deployment)
    agent = Agent(prosumer, follower, optimizer, source, name="H001")
    try:
        agent.running = True
        game = m.open_game()
        deadline = time.monotonic() + 30
        while agent.tracks.get(game) is None or agent.tracks[game].role is None:
            assert time.monotonic() < deadline, "the agent did not register"
            agent.step()
            time.sleep(0.01)
        registration_end = m.market.functions.game(game).call()[0][0]
        intent = source.intent(game, registration_end)
        assert intent is not None and intent.period is not None
        assert intent.period == source.profile.at_timestamp(registration_end)
        if intent.role == "seller":
            offers = m.market.functions.offers(game).call()
            assert [tuple(o) for o in offers] == [(prosumer.address, kwh_to_wh(intent.kwh), 70_000)]
        else:
            demands = m.market.functions.demands(game).call()
            assert [tuple(d) for d in demands] == [(prosumer.address, kwh_to_wh(intent.kwh))]
        assert agent.tracks[game].role == intent.role
        m.close_registration(game)  # no game left registering for the other tests
    finally:
        follower.close()
        optimizer.close()
        prosumer.close()


def test_following_by_block_range_and_by_filter_deliver_the_same_events(
    prosumer_market: Any,
) -> None:
    m = prosumer_market
    by_filter = Follower(Rpc(m.rpc), m.deployment)
    by_range = Follower(Rpc(m.rpc), m.deployment, use_filter=False)
    try:
        assert by_filter.poll() == [] and by_range.poll() == []  # only what comes next
        game = m.open_game()
        m.advance(5)  # an empty block in between
        m.close_registration(game)  # no participants: registration closed and game ended
        got = [by_filter.poll(), by_range.poll()]
        names = [e.name for e in got[1] if e.game == game]
        assert names == ["GameOpened", "RegistrationClosed", "GameEnded"], names
        assert got[0] == got[1]
        assert by_filter.poll() == [] and by_range.poll() == []  # nothing twice
    finally:
        by_filter.close()
        by_range.close()
        by_filter.rpc.close()
        by_range.rpc.close()
