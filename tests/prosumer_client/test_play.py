"""Agents as real processes (`python -m prosumer_client play`): 2 sellers and 3 buyers with
fixed amounts register when the game opens and play through the queue to convergence; their
final bids are best responses to each other."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ledger_contracts import EventReader, LedgerRevert
from optimizer.best_response import best_response
from prosumer_client.cli import main as cli_main
from prosumer_client.market import MarketReader

Market = Any  # the `market` fixture (tests/prosumer_client/conftest.py)

SELLERS = (0, 1)  # indices into SCENARIO / market.prosumers
BUYERS = (3, 4, 5)


def _agent(
    market: Market, index: int, args: list[str], name: str, log: Path, out: Path
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    key_index = 10 + index
    if index in SELLERS:  # sellers by key file, buyers by environment variable
        args = [*args, "--key-file", str(market.key_file(key_index))]
    else:
        env["PROSUMER_KEY"] = market.keys[key_index]
    cmd = [
        sys.executable,
        "-m",
        "prosumer_client",
        "play",
        *market.common_flags(),
        "--name",
        name,
        "--games",
        "1",
        "--json",
        "--log-level",
        "silly",
        *args,
    ]
    with open(log, "wb") as err, open(out, "wb") as stdout:
        return subprocess.Popen(cmd, cwd=market.repo, env=env, stdout=stdout, stderr=err)


def _wait_registered(
    market: Market,
    game_id: int,
    sellers: int,
    buyers: int,
    procs: dict[str, subprocess.Popen[bytes]],
    logs: dict[str, Path],
) -> None:
    m = market.market.functions
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        if len(m.offers(game_id).call()) == sellers and len(m.demands(game_id).call()) == buyers:
            return
        for name, proc in procs.items():
            assert proc.poll() is None, f"{name} exited early:\n{logs[name].read_text()}"
        time.sleep(0.1)
    raise AssertionError(
        "agents did not register:\n"
        + "\n".join(f"--- {n}\n{p.read_text()}" for n, p in logs.items())
        + market.diagnostics()
    )


def test_agents_play_to_convergence(
    prosumer_market: Market,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    market = prosumer_market
    sc = market.scenario
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    outs: dict[str, Path] = {}
    for k in SELLERS:
        kwh, price = sc.sellers[k]
        name = f"S{k + 1:03d}"
        logs[name], outs[name] = tmp_path / f"{name}.log", tmp_path / f"{name}.out"
        procs[name] = _agent(
            market, k, ["--sell", str(kwh), "--price", str(price)], name, logs[name], outs[name]
        )
    for k in BUYERS:
        name = f"P{k - 2:03d}"
        logs[name], outs[name] = tmp_path / f"{name}.log", tmp_path / f"{name}.out"
        strategy = ["--strategy", "equilibrium"] if name == "P003" else []
        procs[name] = _agent(
            market, k, ["--buy", str(sc.buyers[k - 3]), *strategy], name, logs[name], outs[name]
        )
    try:
        game_id = market.open_game()
        _wait_registered(market, game_id, len(SELLERS), len(BUYERS), procs, logs)
        market.advance(31)
        started = time.perf_counter()
        market.close_registration(game_id, seconds=0)
        phase = market.market.functions.phase(game_id)
        deadline = time.monotonic() + 60
        while phase.call() != 3 and time.monotonic() < deadline:  # Ended
            time.sleep(0.005)
        elapsed = time.perf_counter() - started  # closing registration to the game's end
        for name, proc in procs.items():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                raise AssertionError(
                    f"{name} still running:\n{logs[name].read_text()}\n" + market.diagnostics()
                ) from None
        for name, proc in procs.items():
            assert proc.returncode == 0, f"{name}:\n{logs[name].read_text()}"
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    m = market.market.functions
    _, prices_raw, status = m.game(game_id).call()
    assert status[0] == 3 and status[1] == 1, f"phase/reason {status[:2]}"  # ended, converged
    rounds = status[4]
    events = list(EventReader(market.w3, market.deployment).read(game=game_id))
    turns = sum(e.name in ("BidSubmitted", "BidStood") for e in events)
    assert turns == rounds * len(BUYERS)
    assert any(e.name == "BidStood" for e in events)  # converged buyers stand

    # Every final bid is a best response to the others' (within epsilon and Wh rounding).
    offers = m.offers(game_id).call()
    prices = np.array([o[2] for o in offers]) / 1e6
    caps = np.array([o[1] for o in offers]) / 1000
    grid, fee = prices_raw[0] / 1e6, prices_raw[2] / 1e6
    alloc = np.array(m.allocation(game_id).call(), dtype=float)
    loads = alloc.sum(axis=0)
    demands = m.demands(game_id).call()
    # The lean reader's batch of hop reads (the equilibrium strategy's) answers like web3's.
    reader = MarketReader(market.w3, market.deployment)
    assert reader.hops_of(game_id, [d[0] for d in demands]) == [
        tuple(m.hopsToSellers(game_id, d[0]).call()) for d in demands
    ]
    assert reader.hops_of(game_id, []) == []
    with pytest.raises(LedgerRevert, match="MarketUnknownProsumer"):  # a revert inside the batch
        reader.hops_of(game_id, [demands[0][0], "0x" + "77" * 20])
    reader.rpc.close()
    for i, (buyer, demand_wh) in enumerate(demands):
        hops = np.array(m.hopsToSellers(game_id, buyer).call(), dtype=float)
        others = (loads - alloc[i]) / 1000
        best = (
            best_response(
                demand_wh / 1000,
                prices,
                caps,
                others,
                hops,
                transmission_cost_per_hop=fee,
                grid_price=grid,
            ).x
            * 1000
        )
        assert np.max(np.abs(best - alloc[i])) <= sc.epsilon_wh + len(offers), (
            f"buyer {i}: bid {alloc[i]} vs best response {best}"
        )

    # The logs read like the original demo's; the JSON summary is on stdout.
    seller_log = logs["S001"].read_text()
    assert "] info: Created seller with offer amount: 40, price: 0.08" in seller_log
    assert f"info: Published offer in game {game_id}: 40 kWh at 0.08" in seller_log
    assert (
        f"info: Received GameEnded for game {game_id}: converged after {rounds} rounds"
        in seller_log
    )
    buyer_log = logs["P001"].read_text()
    assert buyer_log.startswith("[P001] [")
    assert "info: Created buyer with demand amount: 20" in buyer_log
    assert f"info: Buyer playing in game {game_id} (round 1)" in buyer_log
    assert "silly: Sellers used capacities: 0,0" in buyer_log
    assert "verbose: Optimized solution for demand of 20: " in buyer_log
    assert "debug: Turn timings" in buyer_log
    assert (
        f"verbose: Opening with my share of the equilibrium in game {game_id}: "
        in logs["P003"].read_text()
    )
    summaries = {n: json.loads(outs[n].read_text().splitlines()[-1]) for n in procs}
    for summary in summaries.values():
        assert summary["game"] == game_id and summary["reason"] == "converged", summary
    assert summaries["S002"]["role"] == "seller" and summaries["S002"]["kwh"] == 30.0
    buyer = summaries["P002"]
    assert buyer["role"] == "buyer" and buyer["turns"] == rounds
    assert abs(sum(buyer["bid_kwh"]) - 25.0) <= 0.01
    # Settlement: every buyer's escrow was approved through the queue and locked; once the
    # trades are fixed, a meter posts readings with the CLI, and the close pays delivered trades.
    locked = [e for e in events if e.name == "EscrowLocked"]
    assert sorted(e.args["buyer"] for e in locked) == sorted(
        d[0] for d in m.demands(game_id).call()
    )
    settlement = market.deployment.contract(market.w3, "Settlement").functions
    market.driver.send("fixTrades", market.operator, settlement.fixTrades(game_id, 10))
    seller, buyer_address = market.prosumers[0].address, market.prosumers[3].address
    monkeypatch.setenv("PROSUMER_KEY", market.keys[market.meter])
    for who, produced, consumed in ((seller, "40", "0"), (buyer_address, "0", "20")):
        code = cli_main(
            [
                "meter",
                "--game",
                str(game_id),
                "--prosumer",
                who,
                "--produced",
                produced,
                "--consumed",
                consumed,
                *market.common_flags(),
            ]
        )
        assert code == 0
    later = list(EventReader(market.w3, market.deployment).read(game=game_id))
    assert sum(e.name == "ReadingPosted" for e in later) == 2
    row = [d[0] for d in m.demands(game_id).call()].index(buyer_address)
    assert not [e for e in later if e.name == "TradeDelivered"]  # a reading only records

    # The buyer's wallet: balances and its trades, as JSON and as a table.
    capsys.readouterr()
    flags = ["--address", buyer_address, *market.common_flags()]
    assert cli_main(["balance", "--json", *flags]) == 0
    balances = json.loads(capsys.readouterr().out)
    assert balances["address"] == buyer_address and balances["escrow"] > 0
    assert cli_main(["history", "--json", "--game", str(game_id), *flags]) == 0
    trades = json.loads(capsys.readouterr().out)
    bought = [t for t in trades if t["buyer"] == buyer_address]
    assert len(bought) == sum(1 for v in alloc[row] if v > 0)
    assert sum(t["energy_kwh"] for t in bought) == pytest.approx(alloc[row].sum() / 1000)
    assert cli_main(["history", *flags]) == 0
    assert "bought" in capsys.readouterr().out
    market.driver.close(game_id)
    closed = list(EventReader(market.w3, market.deployment).read(game=game_id))
    delivered = [e for e in closed if e.name == "TradeDelivered"]
    assert len(delivered) == (1 if alloc[row][0] > 0 else 0)
    assert cli_main(["balance", "--json", *flags]) == 0
    balances = json.loads(capsys.readouterr().out)
    assert balances["escrow"] == 0
    assert balances["wallet"] + balances["escrow"] < market.tokens / 1e6  # it paid

    print(
        f"\n{turns} turns in {elapsed:.2f} s: {elapsed / turns * 1000:.1f} ms per turn "
        f"(end to end through the queue, 3 buyers x 2 sellers)"
    )
    print(
        "agent ms per turn (noticed -> queued):",
        [summaries[n]["agent_ms_mean"] for n in ("P001", "P002", "P003")],
        "turn ms (noticed -> mined event seen):",
        [summaries[n]["turn_ms_mean"] for n in ("P001", "P002", "P003")],
    )
