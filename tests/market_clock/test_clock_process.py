"""The clock as a process: real Anvil, real queue process, real HTTP, simulated time.

The tests share one deployment and play one game each, in order (game ids from `next_game`).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from ledger_contracts import Anvil, EventReader, transact
from market_clock.__main__ import main

from .conftest import Market, Queue, StartClock
from .players import Players, wait_for

# Chain seconds: 90 s registration and 30 s turns; at x60, 1.5 s and 0.5 s of wall time.
# With settlement, 30 s for the meters after the delivery end, then the game is closed (no meter
# posts here: no wall seconds are kept for one).
FLAGS = (
    "--speed",
    "60",
    "--registration",
    "90",
    "--turn-seconds",
    "30",
    "--round-limit",
    "4",
    "--period",
    "600",
    "--delivery",
    "300",
    "--epsilon-wh",
    "5",
    "--grace",
    "0.5",
    "--metering",
    "30",
    "--meter-grace",
    "0",
    "--games",
    "1",
)


def players(market: Market) -> Players:
    bidders, silent = market.buyers[:2], market.buyers[2:]
    return Players(
        market.w3,
        market.deployment,
        market.sellers,
        bidders,
        silent,
        bids={bidders[0].address: [4_000, 6_000], bidders[1].address: [7_000, 5_000]},
    )


def phase(market: Market, game_id: int) -> int:
    m = market.deployment.contract(market.w3, "Market")
    return int(m.functions.phase(game_id).call())


def game_count(market: Market) -> int:
    return int(market.deployment.contract(market.w3, "Market").functions.gameCount().call())


def settled(market: Market, game_id: int) -> int | None:
    """The settlement's status of a game (4 = closed), None without settlement."""
    if "Settlement" not in market.deployment.contracts:
        return None
    book = market.deployment.contract(market.w3, "Settlement").functions.gameBook(game_id)
    return int(book.call()[0])


def short(address: str) -> str:
    return f"{address[:6]}…{address[-4:]}"


def open_and_register(market: Market, team: Players, game: int) -> int:
    """Register the team in `game` as soon as the clock opens it (ids read before the start)."""
    wait_for(lambda: game_count(market) == game, 20, f"the clock to open game {game}")
    team.register(game)
    return game


def test_plays_a_game_through_the_queue(
    market: Market, queue: Queue, start_clock: StartClock
) -> None:
    team, game = players(market), game_count(market) + 1
    clock, health = start_clock(*FLAGS, queue=queue.url)
    open_and_register(market, team, game)
    team.play(game)
    wait_for(
        lambda: httpx.get(health, timeout=5).json()["game"]["phase"] != "registration",
        10,
        "the health endpoint to see the bidding",
    )
    body = httpx.get(health, timeout=5).json()
    assert body["status"] == "ok" and body["mode"] == "simulated" and body["speed"] == 60
    assert body["game"]["id"] == game and body["game"]["phase"] in ("bidding", "ended")
    assert body["chain_time"] >= body["game"]["registration_end"]
    assert body["account"] == market.clock.address
    assert clock.wait(timeout=30) == 0, clock.text()
    team.stop()

    assert team.errors == []
    assert game_count(market) == game  # --games 1: no further game
    log = clock.text()
    silent = market.buyers[2].address
    for line in (
        f"info: Game {game} opened at chain time",
        f"info: Registration of game {game} closed: 2 sellers, 3 buyers",
        f"info: Turn of {short(silent)} skipped (game {game}, round 1)",
        f"info: Turn of {short(silent)} skipped (game {game}, round 2)",
        f"info: Game {game} ended: converged after 2 rounds",
    ):
        assert line in log, log
    if settled(market, game) is not None:
        assert settled(market, game) == 4
        assert f"info: Trades of game {game} fixed" in log
        assert f"info: Game {game} closed" in log
        assert log.index("Trades of game") < log.index(f"Game {game} closed")
    assert log.startswith("[CLOCK] [")
    events = list(EventReader(market.w3, market.deployment).read(game=game))
    skipped = [e.args["buyer"] for e in events if e.name == "TurnSkipped"]
    assert skipped == [silent, silent]  # the live buyers were never skipped
    opened = next(e for e in events if e.name == "GameOpened")
    assert opened.args["roundLimit"] == 4 and opened.args["turnSeconds"] == 30
    assert opened.args["deliveryEnd"] - opened.args["registrationEnd"] == 300


def test_killed_mid_game_a_restarted_clock_finishes_it(
    market: Market, queue: Queue, start_clock: StartClock
) -> None:
    team, game = players(market), game_count(market) + 1
    first, _ = start_clock(*FLAGS, queue=queue.url)
    open_and_register(market, team, game)
    wait_for(lambda: phase(market, game) == 2, 20, "registration to close")
    first.kill()  # SIGKILL in bidding: nobody skips the silent buyer's turns now
    team.play(game)
    second, _ = start_clock(*FLAGS, queue=queue.url)
    assert second.wait(timeout=30) == 0, second.text()
    team.stop()
    assert phase(market, game) == 3 and settled(market, game) in (None, 4)
    assert game_count(market) == game  # the new clock did not open another game
    assert f"Game {game} ended: converged after 2 rounds" in second.text()
    assert team.errors == []


def test_rides_out_a_queue_outage(market: Market, queue: Queue, start_clock: StartClock) -> None:
    team, game = players(market), game_count(market) + 1
    clock, health = start_clock(*FLAGS, queue=queue.url)
    open_and_register(market, team, game)
    team.play(game)
    wait_for(lambda: phase(market, game) == 2, 20, "registration to close")
    queue.kill()  # the silent buyer's turn expires while nobody can relay the skip
    wait_for(
        lambda: httpx.get(health, timeout=5).json()["status"] == "degraded",
        15,
        "the clock to notice the outage",
    )
    assert clock.alive()
    queue.start()
    assert clock.wait(timeout=30) == 0, clock.text()
    team.stop()
    assert phase(market, game) == 3 and settled(market, game) in (None, 4)
    assert team.errors == []
    assert f"Game {game} ended: converged after 2 rounds" in clock.text()
    assert "warning:" in clock.text() and "Node and queue answer again" in clock.text()


def test_stops_with_a_message_when_the_queue_will_never_relay_its_call(
    market: Market, anvil: Anvil, start_clock: StartClock, tmp_path: Path
) -> None:
    """A refusal no retry can change (openGame needs more gas than this queue relays per
    request) stops the clock with exit 1 and the remedy, instead of a retry loop; no game."""
    small = Queue(anvil.url, market.file, tmp_path, "--max-request-gas", "50000")
    small.start()
    try:
        before = game_count(market)
        clock, _ = start_clock(*FLAGS, queue=small.url, wait=False)
        assert clock.wait(timeout=30) == 1, clock.text()
        log = clock.text()
        assert "error: the queue refuses the clock's request: gas " in log, log
        assert "is above the relay's limit per request (50000)" in log, log
        assert "raise the queue's --max-request-gas; the clock stops" in log, log
        assert "retrying" not in log and "game(s) done" not in log, log
        assert game_count(market) == before
    finally:
        small.stop()


def test_refuses_to_start_without_the_clock_role(
    market: Market,
    anvil: Anvil,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """Start-up checks run before anything else (no queue is needed to fail them)."""
    args = [
        "--rpc",
        anvil.url,
        "--deployment",
        str(market.file),
        "--queue",
        "http://127.0.0.1:9",
        "--startup-wait",
        "0",
    ]
    stranger = "0x" + "11" * 32  # 0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A
    monkeypatch.setenv("CLOCK_KEY", stranger)
    assert main(args) == 1
    err = capsys.readouterr().err
    assert (
        "error: the clock's account 0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A lacks "
        "CLOCK_ROLE" in err
    ), err
    assert "grantRole(CLOCK_ROLE, 0x19E7E376E7C213B7E7e7e46cc70A5dD086DAff2A)" in err
    monkeypatch.delenv("CLOCK_KEY")
    bad = tmp_path / "key"
    bad.write_text("not a key\n")
    assert main([*args, "--key-file", str(bad)]) == 1
    assert "does not hold a 32-byte hex private key" in capsys.readouterr().err
    # The right key, but no queue: a clear message after the (here zero) start-up wait.
    assert main(args) == 1
    assert "the transaction queue does not answer at http://127.0.0.1:9" in (
        capsys.readouterr().err
    )


def test_stops_with_a_message_when_it_loses_the_clock_role(
    market: Market, queue: Queue, start_clock: StartClock
) -> None:
    """CLOCK_ROLE revoked while the clock runs: closing registration reverts with
    AccessControlUnauthorizedAccount, which waiting cannot change; exit 1 and the remedy.
    (Last in the module: it leaves a game in registration.)"""
    m = market.deployment.contract(market.w3, "Market")
    role = m.functions.CLOCK_ROLE().call()
    game = game_count(market) + 1
    clock, _ = start_clock(*FLAGS, "--grace", "5", queue=queue.url)  # 5 s to revoke in
    try:
        wait_for(lambda: game_count(market) == game, 20, f"the clock to open game {game}")
        transact(market.w3, market.operator, m.functions.revokeRole(role, market.clock.address))
        assert clock.wait(timeout=30) == 1, clock.text()
    finally:
        transact(market.w3, market.operator, m.functions.grantRole(role, market.clock.address))
    log = clock.text()
    assert "error: CloseRegistration refused: AccessControlUnauthorizedAccount(" in log, log
    assert (
        f"grant the clock's account {market.clock.address} CLOCK_ROLE and start it "
        "again; the clock stops"
    ) in log, log
    assert phase(market, game) == 1  # registration: nothing was closed
