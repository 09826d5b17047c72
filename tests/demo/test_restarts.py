"""One crash does not end the market: `python -m demo` as a user runs it (real Anvil, real
processes, real HTTP), with the queue, the clock, the optimizer, the meter and one agent each
killed with SIGKILL mid-game by the PIDs in the demo's process table. Each is restarted, said on
the screen, and the game still converges and settles with every token accounted for."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from web3 import Web3

from demo.run import with_games_left
from ledger_contracts import Anvil, Deployment, EventReader, account, connect
from ledger_contracts.testing import DEMO

ROOT = Path(__file__).resolve().parents[2]
VICTIMS = ("tx_queue", "market_clock", "optimizer", "meter", "P002")
# The original demo game, with turns long enough (30 s of wall time at x20) that a buyer whose
# bid is held up by a restarting queue or optimizer still plays its turn.
SLOW_TURNS = dataclasses.replace(DEMO, turn_seconds=600)


@pytest.fixture
def node() -> Iterator[Anvil]:
    with Anvil(accounts=10) as anvil:  # its own chain: the clock moves its time
        yield anvil


def until(
    predicate: Callable[[], object],
    timeout: float,
    what: str,
    proc: subprocess.Popen[str],
    lines: list[str],
) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert proc.poll() is None, f"the demo exited while waiting for {what}:\n" + "\n".join(
            lines[-30:]
        )
        assert time.monotonic() < end, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)


def tokens(w3: Web3, deployment: Deployment, holders: list[str]) -> tuple[int, int]:
    """(every holder's balance plus the settlement's, the token's total supply)."""
    token = deployment.contract(w3, "GridToken").functions
    held = sum(int(token.balanceOf(a).call()) for a in [*holders, deployment.address("Settlement")])
    return held, int(token.totalSupply().call())


def test_each_kind_killed_mid_game_is_restarted_and_the_game_settles(
    node: Anvil, tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(SLOW_TURNS.to_dict()))
    work = tmp_path / "work"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "demo",
            "--scenario",
            str(scenario),
            "--rpc",
            node.url,
            "--workdir",
            str(work),
            "--json",
            str(tmp_path / "r.json"),
            "--chart",
            "",
            "--restart-delay",
            "0.5",
            "--timeout",
            "240",
        ],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(
        target=lambda: lines.extend(ln.rstrip("\n") for ln in proc.stdout), daemon=True
    )
    reader.start()
    try:
        table = work / "processes.json"
        until(
            lambda: table.exists() and "market_clock" in table.read_text(),
            180,
            "the clock to start",
            proc,
            lines,
        )
        w3 = connect(node.url)
        deployment = Deployment.load(work / "deployment.json")
        events = EventReader(w3, deployment)
        seen: list[str] = []

        def saw(name: str) -> bool:
            seen[:] = [e.name for e in events.read(game=1)]
            return name in seen

        until(lambda: saw("BidSubmitted"), 120, "the first bid", proc, lines)
        cluster = json.loads((work / "cluster.json").read_text())
        holders = [p["address"] for p in cluster["participants"]]
        holders.append(account(node.keys[0]).address)  # the operator: grid exports, income
        before = tokens(w3, deployment, holders)
        pids = {
            name: row["pid"] for name, row in json.loads(table.read_text())["processes"].items()
        }
        killed_at = w3.eth.block_number
        for name in VICTIMS:
            os.kill(pids[name], signal.SIGKILL)
        assert not saw("GameEnded"), "the game ended before the kills landed"
        assert proc.wait(timeout=240) == 0, "\n".join(lines[-40:])
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    screen = "\n".join(lines)
    for name in VICTIMS:
        assert re.search(
            rf"\[DEMO\] \[[^]]+\] {name} exited \(-9\); restarting in 0\.5 s "
            rf"\(restart 1 of 5 in 60 s\)",
            screen,
        ), f"no restart line for {name}"
        assert f"{name} restarted (pid " in screen
    rows = json.loads(table.read_text())["processes"]
    assert all(rows[name]["restarts"] == 1 for name in VICTIMS), rows
    assert all(rows[name]["pid"] != pids[name] for name in VICTIMS)

    (game,) = json.loads((tmp_path / "r.json").read_text())["games"]
    assert game["end_reason"] == "converged"
    assert game["settlement"]["closed"] and game["settlement"]["debts"] == []
    ended = next(e for e in events.read(game=1) if e.name == "GameEnded")
    assert ended.block > killed_at  # the kills landed mid-game
    assert [e.name for e in events.read(game=1)].count("GameOpened") == 1
    # the restarted clock drove the game under way and opened no other (--games 1)
    assert int(deployment.contract(w3, "Market").functions.gameCount().call()) == 1
    after = tokens(w3, deployment, holders)
    assert before[0] == before[1] and after == before  # every token is in a wallet or escrow
    # the restarted agent caught up with the game under way and played its later turns
    agent = next(p["address"] for p in cluster["participants"] if p["name"] == "P002")
    assert any(
        e.name in ("BidSubmitted", "BidStood") and e.args["buyer"] == agent and e.block > killed_at
        for e in events.read(game=1)
    )
    # what a restart is told: the games left, counted on the chain; none once all are done
    assert with_games_left(["clock"], node.url, deployment, 1, ended=False)() is None
    assert with_games_left(["clock"], node.url, deployment, 3, ended=False)() == [
        "clock",
        "--games",
        "2",
    ]
