"""The original system's demo game played to convergence on a real Anvil, with exact best
responses computed here (independently of the optimizer package)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger_contracts import Deployment, EventReader
from ledger_contracts.testing import DEMO, GameRun, ScriptedMarket


def exact_best_response(
    demand: float,
    prices: Sequence[float],
    caps: Sequence[float],
    others: Sequence[float],
    hops: Sequence[float],
    fee: float,
    grid: float | None,
) -> list[float]:
    """KKT of min sum a_j x_j + b_j x_j^2, sum x = demand (or <= demand with the grid at
    `grid`), 0 <= x_j <= cap_j - others_j: x_j = clip((lam - a_j) / 2 b_j), lam by bisection."""
    p, c, u, h = (np.asarray(v, dtype=float) for v in (prices, caps, others, hops))
    a, b, free = p * (1 + u / c) + fee * h, p / c, c - u

    def alloc(lam: float) -> np.ndarray:
        return np.clip((lam - a) / (2 * b), 0.0, free)

    hi = float(np.max(a + 2 * b * free))
    if grid is not None and alloc(grid).sum() <= demand:
        return list(alloc(grid))  # the rest comes from the grid
    lo = float(np.min(a))
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if alloc(mid).sum() < demand else (lo, mid)
    return list(alloc(hi))


def buyer_cost(
    x: np.ndarray,
    prices: np.ndarray,
    caps: np.ndarray,
    others: np.ndarray,
    hops: np.ndarray,
    fee: float,
) -> float:
    return float(np.sum(x * (prices * (1 + (others + x) / caps) + fee * hops)))


@pytest.fixture
def demo_run(
    w3: Web3, deployment: Deployment, operator: LocalAccount, dev_accounts: list[LocalAccount]
) -> tuple[ScriptedMarket, GameRun]:
    driver = ScriptedMarket(w3, deployment, operator, dev_accounts[1:12])
    driver.setup(DEMO)
    game_id = driver.register(DEMO)
    return driver, driver.play(game_id, exact_best_response)


def test_demo_game_converges_to_mutual_best_responses(
    w3: Web3, deployment: Deployment, demo_run: tuple[ScriptedMarket, GameRun]
) -> None:
    driver, run = demo_run
    m = driver.market
    assert run.reason == "converged"
    assert 2 <= run.rounds < DEMO.round_limit
    assert run.turns == run.rounds * len(DEMO.buyers)

    alloc = np.array(run.allocation_wh, dtype=float) / 1000  # kWh, buyers in turn order
    offers = m.functions.offers(run.game_id).call()
    prices = np.array([o[2] for o in offers]) / 1e6
    caps = np.array([o[1] for o in offers]) / 1000
    loads = alloc.sum(axis=0)
    assert np.all(loads <= caps + 1e-9)
    chain_loads = np.array(m.functions.gameState(run.game_id).call()[2]) / 1000
    assert np.allclose(chain_loads, loads)

    demands = {d[0]: d[1] / 1000 for d in m.functions.demands(run.game_id).call()}
    # Buyers in the default order: everyone's contribution is 0, so admission order.
    assert run.buyer_order == [p.address for p in driver.prosumers[4:11]]
    for i, buyer in enumerate(run.buyer_order):
        hops = np.array(m.functions.hopsToSellers(run.game_id, buyer).call(), dtype=float)
        others = loads - alloc[i]
        assert alloc[i].sum() <= demands[buyer] + 1e-9
        assert alloc[i].sum() >= demands[buyer] - len(offers) / 1000  # Wh rounding only
        best = np.array(
            exact_best_response(
                demands[buyer], prices, caps, others, hops, DEMO.fee_per_hop, DEMO.grid_retail
            )
        )
        # Converged: nobody could move by more than a few epsilons, nor save more than 0.1 %.
        assert np.max(np.abs(best - alloc[i])) * 1000 <= 4 * DEMO.epsilon_wh + len(offers)
        mine = buyer_cost(alloc[i], prices, caps, others, hops, DEMO.fee_per_hop)
        assert mine <= buyer_cost(best, prices, caps, others, hops, DEMO.fee_per_hop) * 1.001


def test_demo_game_events_tell_the_whole_game(
    w3: Web3, deployment: Deployment, demo_run: tuple[ScriptedMarket, GameRun]
) -> None:
    _, run = demo_run
    events = list(EventReader(w3, deployment).read(game=run.game_id))
    names = [e.name for e in events]
    assert names[0] == "GameOpened"
    assert names.count("OfferPublished") == len(DEMO.sellers)
    assert names.count("DemandPublished") == len(DEMO.buyers)
    assert names.count("RegistrationClosed") == 1
    assert names.count("BidSubmitted") == run.turns
    assert names.count("TurnStarted") == run.turns
    assert names[-1] == "GameEnded"
    end = events[-1].args
    assert (end["rounds"], end["reason"]) == (run.rounds, 1)
    # The last bid of each buyer in the events is its final allocation row.
    last_bid = {
        e.args["buyer"]: list(e.args["amounts"]) for e in events if e.name == "BidSubmitted"
    }
    assert [last_bid[b] for b in run.buyer_order] == run.allocation_wh
    # Turns announced in order: round 1 starts with the first buyer.
    first_turn = next(e for e in events if e.name == "TurnStarted")
    assert (first_turn.args["round"], first_turn.args["buyer"]) == (1, run.buyer_order[0])


def test_events_command_prints_the_whole_game(
    anvil, deployment: Deployment, demo_run: tuple[ScriptedMarket, GameRun], tmp_path, capsys
) -> None:
    import json

    from ledger_contracts.__main__ import main

    _, run = demo_run
    path = tmp_path / "deployment.json"
    deployment.save(path)
    assert (
        main(
            [
                "events",
                "--rpc",
                anvil.url,
                "--deployment",
                str(path),
                "--game",
                str(run.game_id),
                "--json",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["event"] == "GameOpened" and rows[-1]["event"] == "GameEnded"
    assert sum(r["event"] == "BidSubmitted" for r in rows) == run.turns
    assert all(r["args"]["gameId"] == run.game_id for r in rows)
    assert [r["block"] for r in rows] == sorted(r["block"] for r in rows)
    assert (
        main(["events", "--rpc", anvil.url, "--deployment", str(path), "--game", str(run.game_id)])
        == 0
    )
    text = capsys.readouterr().out.splitlines()
    assert len(text) == len(rows) and "Market.GameEnded" in text[-1]
    assert main(["events", "--rpc", anvil.url, "--deployment", str(tmp_path / "none.json")]) == 1
    assert "not found; deploy first" in capsys.readouterr().err
