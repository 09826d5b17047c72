"""The whole market on one machine: a chain, the contracts, the optimizer, the queue, the clock,
a meter simulator and one OS process per prosumer; then the report of every game."""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridgame import stamp
from ledger_contracts import (
    Anvil,
    Deployment,
    Event,
    EventReader,
    Phase,
    account,
    connect,
    free_port,
    load_key,
)
from ledger_contracts.testing import Scenario

from .chart import convergence_chart
from .processes import Cluster, ClusterError
from .report import format_report, game_report
from .settlement import settlement_summary
from .setup import MarketSetup, setup_market
from .supervision import RestartPolicy

PY = sys.executable


@dataclass
class DemoOptions:
    scenario: Scenario
    workdir: Path
    rpc: str | None = None
    games: int = 1
    speed: float = 20.0
    timeout: float = 600.0
    json_path: str | None = None
    chart_path: str | None = "demo-convergence.png"
    strategy: str = "best-response"
    quiet: bool = False
    restart: RestartPolicy | None = RestartPolicy()  # None: a crashed service ends the run


def log(message: str) -> None:
    print(f"[DEMO] [{stamp()}] {message}", flush=True)


def run_demo(opt: DemoOptions) -> dict[str, Any]:
    with ExitStack() as stack:
        cluster = stack.enter_context(
            Cluster(
                echo=not opt.quiet,
                log_dir=opt.workdir / "logs",
                policy=opt.restart,
                table=opt.workdir / "processes.json",
            )
        )
        if opt.rpc is None:
            node = stack.enter_context(
                Anvil(accounts=10, log_file=opt.workdir / "logs" / "anvil.log")
            )
            rpc = node.url
            log(f"Anvil started at {rpc}")
        else:
            rpc = opt.rpc
        w3 = connect(rpc, wait=10)
        operator = account(load_key(None, env="OPERATOR_KEY", w3=w3))
        setup = setup_market(w3, operator, opt.scenario, opt.workdir, opt.games, log=log)
        urls = start_services(cluster, setup, rpc, opt)
        start_prosumers(cluster, setup, rpc, urls, opt)
        start_clock_and_meter(cluster, setup, rpc, urls, opt)
        watched = watch_games(cluster, w3, setup, opt)
        log("all games done")
        reports = []
        for game_id, (events, timings) in watched.items():
            settled = settlement_summary(w3, setup.deployment, game_id, events, setup.names())
            reports.append(
                game_report(
                    w3,
                    setup.deployment,
                    game_id,
                    events,
                    setup.names(),
                    urls["optimizer"],
                    timings,
                    settled,
                )
            )
        log("stopping every process")
    result = {"scenario": opt.scenario.to_dict(), "games": reports, "workdir": str(opt.workdir)}
    for r in reports:
        print("\n" + format_report(r), flush=True)
    if opt.chart_path and reports and reports[0]["convergence"]:
        print(f"\nConvergence chart: {convergence_chart(reports[0], opt.chart_path)}")
    if opt.json_path:
        Path(opt.json_path).write_text(json.dumps(result, indent=2) + "\n")
        print(f"Result written to {opt.json_path}")
    return result


def start_services(
    cluster: Cluster, setup: MarketSetup, rpc: str, opt: DemoOptions
) -> dict[str, str]:
    ports = {"optimizer": free_port(), "queue": free_port(), "clock": free_port()}
    # restarted on the same port; the queue on the same database, finishing what it accepted
    cluster.start(
        "optimizer",
        [PY, "-m", "optimizer", "--port", str(ports["optimizer"])],
        service=True,
        restart=True,
    )
    cluster.start(
        "tx_queue",
        [
            PY,
            "-m",
            "tx_queue",
            "--rpc",
            rpc,
            "--deployment",
            setup.deployment_file,
            "--db",
            str(setup.directory / "queue.db"),
            "--port",
            str(ports["queue"]),
        ],
        service=True,
        restart=True,
    )
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    cluster.wait_healthy("optimizer", urls["optimizer"] + "/health")
    cluster.wait_healthy("tx_queue", urls["queue"] + "/health")
    log(f"optimizer at {urls['optimizer']}, transaction queue at {urls['queue']}")
    return urls


def start_prosumers(
    cluster: Cluster, setup: MarketSetup, rpc: str, urls: dict[str, str], opt: DemoOptions
) -> None:
    common = [
        "--rpc",
        rpc,
        "--deployment",
        setup.deployment_file,
        "--queue",
        urls["queue"],
        "--optimizer",
        urls["optimizer"],
    ]
    for p in setup.participants:
        trade = (
            ["--sell", str(p.kwh), "--price", str(p.price)]
            if p.role == "seller"
            else ["--buy", str(p.kwh)]
        )
        strategy = ["--strategy", opt.strategy] if p.role == "buyer" else []
        argv = [
            PY,
            "-m",
            "prosumer_client",
            "play",
            "--name",
            p.name,
            "--key-file",
            p.key_file,
            *common,
            *trade,
            *strategy,
        ]
        # A restarted agent catches up from the chain (joins the game under way) and plays
        # the games whose bidding has not ended yet.
        cluster.start(
            p.name,
            [*argv, "--games", str(opt.games)],
            restart=with_games_left(argv, rpc, setup.deployment, opt.games, ended=True),
        )
    # Every agent must follow the chain before the clock opens a game, or it misses registration.
    cluster.wait_line(
        [p.name for p in setup.participants], "Created ", timeout=60 + 2.0 * len(setup.participants)
    )
    log(f"{len(setup.participants)} prosumer processes started and following the chain")


def start_clock_and_meter(
    cluster: Cluster, setup: MarketSetup, rpc: str, urls: dict[str, str], opt: DemoOptions
) -> None:
    sc = setup.scenario
    common = ["--rpc", rpc, "--deployment", setup.deployment_file, "--queue", urls["queue"]]
    if "Settlement" in setup.deployment.contracts:
        cluster.start(
            "meter",
            [
                PY,
                "-m",
                "demo",
                "meter",
                *common,
                "--key-file",
                setup.meter_key_file,
                "--cluster",
                str(setup.directory / "cluster.json"),
            ],
            restart=True,
        )  # it posts the readings still missing
    clock = [
        PY,
        "-m",
        "market_clock",
        *common,
        "--key-file",
        setup.clock_key_file,
        "--port",
        urls["clock"].rsplit(":", 1)[1],
        "--speed",
        str(opt.speed),
        "--registration",
        str(sc.registration_seconds),
        "--delivery",
        str(sc.delivery_seconds),
        "--round-limit",
        str(sc.round_limit),
        "--turn-seconds",
        str(sc.turn_seconds),
        "--epsilon-wh",
        str(sc.epsilon_wh),
        # wall seconds for the meter's readings, one per participant (closed once all are in)
        "--meter-grace",
        str(max(10.0, 0.2 * len(setup.participants))),
        "--period",
        str(sc.registration_seconds + sc.delivery_seconds),
    ]
    # Stateless: a restarted clock reads the games under way from the chain and drives the
    # ones not done yet (its --games counts what it finishes itself).
    cluster.start(
        "market_clock",
        [*clock, "--games", str(opt.games)],
        restart=with_games_left(clock, rpc, setup.deployment, opt.games, ended=False),
    )
    cluster.wait_healthy("market_clock", urls["clock"] + "/health")


def with_games_left(
    argv: list[str], rpc: str, deployment: Deployment, games: int, ended: bool
) -> Callable[[], list[str] | None]:
    """The argv of a restart: `argv --games N` with N the games not over yet (`ended`: whose
    bidding has not ended; else not done: ended and, with settlement, closed); None when
    every game is."""

    def respawn() -> list[str] | None:
        over = games_over(connect(rpc, wait=10), deployment)[0 if ended else 1]
        return None if over >= games else [*argv, "--games", str(games - over)]

    return respawn


def games_over(w3: Any, deployment: Deployment) -> tuple[int, int]:
    """(games whose bidding ended, games done: ended and, with settlement, closed)."""
    market = deployment.contract(w3, "Market").functions
    ended = [
        g
        for g in range(1, int(market.gameCount().call()) + 1)
        if int(market.phase(g).call()) == Phase.ENDED
    ]
    if "Settlement" not in deployment.contracts:
        return len(ended), len(ended)
    book = deployment.contract(w3, "Settlement").functions
    return len(ended), sum(1 for g in ended if int(book.gameBook(g).call()[0]) == 4)  # Closed


def watch_games(
    cluster: Cluster, w3: Any, setup: MarketSetup, opt: DemoOptions
) -> dict[int, tuple[list[Event], dict[str, float]]]:
    """Follow the events until `opt.games` games are done; time each game's phases."""
    done_event = "GameClosed" if "Settlement" in setup.deployment.contracts else "GameEnded"
    reader = EventReader(w3, setup.deployment)
    events: dict[int, list[Event]] = defaultdict(list)
    seen: dict[int, dict[str, float]] = defaultdict(dict)
    last, finished = setup.deployment.block - 1, 0
    deadline = time.monotonic() + opt.timeout
    while finished < opt.games:
        if time.monotonic() > deadline:
            raise ClusterError(
                f"the demo did not finish {opt.games} game(s) within {opt.timeout:.0f} s"
            )
        cluster.check_alive("optimizer", "tx_queue", "market_clock")
        if all(
            cluster.children[p.name].proc.poll() is not None for p in setup.participants
        ) and "GameEnded" not in seen.get(max(seen, default=0), {}):
            raise ClusterError("every prosumer process has exited before the game ended")
        head = w3.eth.block_number
        now = time.perf_counter()
        for e in reader.read(from_block=last + 1, to_block=head) if head > last else ():
            if e.game is None:
                continue
            events[e.game].append(e)
            seen[e.game].setdefault(e.name, now)
            if e.name == done_event:
                finished += 1
        last = max(last, head)
        time.sleep(0.02)
    out = {}
    for game_id, evs in events.items():
        t = seen[game_id]
        turns = sum(1 for e in evs if e.name in ("BidSubmitted", "BidStood", "TurnSkipped"))
        bidding = t.get("GameEnded", 0.0) - t.get("RegistrationClosed", 0.0)
        out[game_id] = (
            evs,
            {
                "bidding_seconds": bidding,
                "ms_per_turn": 1000 * bidding / max(turns, 1),
                "game_seconds": t.get(done_event, 0.0) - t.get("GameOpened", 0.0),
            },
        )
    return out
