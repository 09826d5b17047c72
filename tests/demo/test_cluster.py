"""The whole market as separate processes (real Anvil, real HTTP): a game converges, settles and
matches the equilibrium; a killed buyer's turns are skipped and a killed clock is restarted, and
the game still ends and settles."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest

from demo.processes import Cluster
from demo.run import DemoOptions, run_demo, start_clock_and_meter, start_prosumers, start_services
from demo.setup import setup_market
from ledger_contracts import Anvil, EventReader, account, connect
from ledger_contracts.testing import Scenario

# Ample capacity: no seller fills up, so the game's equilibrium is the potential's minimiser.
ROOMY = Scenario(
    sellers=((200, 0.08), (150, 0.1)),
    buyers=(20, 30, 25),
    seller_zones=(0, 1),
    buyer_zones=(0, 1, 2),
    round_limit=30,
    epsilon_wh=2,
    turn_seconds=60,
    registration_seconds=120,
)


@pytest.fixture
def node():
    with Anvil(accounts=10) as anvil:  # its own chain: the clock moves its time
        yield anvil


def test_a_cluster_converges_settles_and_matches_the_equilibrium(node, tmp_path: Path) -> None:
    result = run_demo(
        DemoOptions(
            scenario=ROOMY,
            workdir=tmp_path,
            rpc=node.url,
            games=1,
            speed=20,
            timeout=240,
            json_path=str(tmp_path / "r.json"),
            chart_path=str(tmp_path / "c.png"),
            quiet=True,
        )
    )
    (game,) = result["games"]
    assert game["end_reason"] == "converged"
    assert game["full_sellers"] == []
    alloc = np.array(game["allocation_kwh"])
    eq = np.array(game["equilibrium"]["allocation"])
    # Within the game's tolerance: a few epsilons of play plus whole-Wh rounding per seller.
    assert np.max(np.abs(alloc - eq)) * 1000 <= 5 * ROOMY.epsilon_wh + len(ROOMY.sellers)
    assert game["max_best_response_move_kwh"] * 1000 <= 5 * ROOMY.epsilon_wh
    settled = game["settlement"]
    assert settled["closed"] and settled["debts"] == []
    for buyer in game["buyers"]:
        assert settled["prosumers"][buyer["name"]]["received_kwh"] == pytest.approx(
            sum(alloc[[b["name"] for b in game["buyers"]].index(buyer["name"])]), abs=1e-3
        )
    assert (tmp_path / "c.png").stat().st_size > 0 and (tmp_path / "r.json").exists()


def test_a_dead_buyer_and_a_restarted_clock_do_not_stop_the_game(node, tmp_path: Path) -> None:
    opt = DemoOptions(scenario=ROOMY, workdir=tmp_path, rpc=node.url, speed=20, quiet=True)
    w3 = connect(node.url)
    setup = setup_market(w3, account(node.keys[0]), ROOMY, tmp_path, log=lambda m: None)
    reader = EventReader(w3, setup.deployment)
    seen: list[str] = []

    def wait_for(name: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            seen[:] = [e.name for e in reader.read(game=1)]
            if name in seen:
                return
            time.sleep(0.1)
        raise AssertionError(f"no {name} within {timeout} s; saw {seen}")

    with Cluster(echo=False) as cluster:
        urls = start_services(cluster, setup, node.url, opt)
        start_prosumers(cluster, setup, node.url, urls, opt)
        start_clock_and_meter(cluster, setup, node.url, urls, opt)
        wait_for("DemandPublished")
        victim = next(p.name for p in setup.participants if p.role == "buyer")
        wait_for("RegistrationClosed")
        cluster.stop(victim, sig=signal.SIGKILL)
        wait_for("TurnSkipped")
        clock = cluster.children["market_clock"]
        cluster.stop("market_clock", sig=signal.SIGKILL)
        assert "GameEnded" not in seen, "the game ended before the clock could be killed mid-game"
        cluster.start("market_clock", clock.argv)
        wait_for("GameClosed", timeout=180)
    assert seen.count("GameOpened") == 1  # the restarted clock did not open the game again
    ended = next(e for e in reader.read(game=1) if e.name == "GameEnded")
    assert ended.args["reason"] in (1, 2)  # converged or round limit
    victim_address = next(p.address for p in setup.participants if p.name == victim)
    skipped = [e for e in reader.read(game=1) if e.name == "TurnSkipped"]
    assert skipped and all(e.args["buyer"] == victim_address for e in skipped)
