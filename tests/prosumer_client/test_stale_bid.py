"""A bid is bound to the turn it was computed for: a signed bid delayed into the next round is
refused through the queue with `MarketStaleTurn`, changes nothing, and the game still ends."""

from __future__ import annotations

from typing import Any

import pytest

from ledger_contracts.testing import Scenario
from prosumer_client import MarketReader, Prosumer, Refused
from tx_queue.client import RelayClient
from tx_queue.errors import RequestRefused

# One seller, two buyers; two rounds at most.
SMALL = Scenario(
    sellers=((10.0, 0.08),),
    buyers=(4.0, 3.0),
    seller_zones=(0,),
    buyer_zones=(0, 1),
    epsilon_wh=5,
    round_limit=2,
    turn_seconds=60,
    registration_seconds=30,
)


def test_a_bid_delayed_into_the_next_round_is_refused_and_the_game_still_ends(
    prosumer_market: Any,
) -> None:
    m = prosumer_market
    game_id = m.driver.register(SMALL)  # opens, registers, closes: round 1, turn 0
    reader = MarketReader(m.w3, m.deployment)
    by_address = {p.address: p for p in m.prosumers}
    first, second = (by_address[d.buyer] for d in reader.demands(game_id))
    a = Prosumer(RelayClient(m.queue_url, m.w3, m.deployment, first), reader)
    b = Prosumer(RelayClient(m.queue_url, m.w3, m.deployment, second), reader)
    try:
        _play(m, game_id, reader, a, b, first.address)
    finally:
        a.relay.close()
        b.relay.close()
        reader.rpc.close()


def _play(m: Any, game_id: int, reader: MarketReader, a: Prosumer, b: Prosumer, first: str) -> None:
    # The first buyer signs its bid for round 1, turn 0 ... which is held up on its way.
    status = reader.state(game_id).status
    assert (status.round, status.turn) == (1, 0)
    data = reader.views.calldata("bid", game_id, 1, 0, [2_000])
    delayed = a.relay.sign((reader.address, data), deadline=a.deadline())

    # Meanwhile the clock skips its turn and the second buyer bids: round 2, its turn again.
    m.advance(61)
    m.driver.send("skipTurn", m.operator, m.market.functions.skipTurn(game_id))
    b.wait("bid", b.bid(game_id, 1, 1, [1_000]))
    before = reader.state(game_id)
    assert (before.status.round, before.status.turn) == (2, 0)

    # The delayed bid arrives: refused for its turn, by name, with both turns.
    with pytest.raises(RequestRefused) as refused:
        a.relay.submit(delayed)
    assert (
        f"MarketStaleTurn(gameId={game_id}, round=1, turn=0, currentRound=2, currentTurn=0)"
    ) in str(refused.value.detail)
    assert reader.state(game_id) == before  # nothing changed
    assert reader.bid_of(game_id, first) == (0,)

    # So is a stand for a past turn, through the agent's own client.
    with pytest.raises(Refused, match="MarketStaleTurn"):
        a.stand(game_id, 1, 0)

    # Bid anew for the turn it is: accepted; the second buyer stands; the round limit ends it.
    a.wait("bid", a.bid(game_id, 2, 0, [2_000]))
    b.wait("stand", b.stand(game_id, 2, 1))
    info = reader.game(game_id)
    assert info.status.phase == "ended" and info.status.end_reason == "round_limit"
    assert reader.bid_of(game_id, first) == (2_000,)
