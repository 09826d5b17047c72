"""`python -m demo` — a whole gridgame market on one machine, and its report.

    python -m demo [--buyers N] [--sellers M] [--seed K] [--scenario FILE] [--games N]
                   [--rpc URL] [--json FILE] [--chart FILE] [--speed X] [--strategy S]
                   [--restart-limit N] [--restart-window S] [--restart-delay S] [--no-restart]
    python -m demo setup --rpc URL --out DIR [scenario flags]   (compose: set a market up)
    python -m demo meter --rpc URL --deployment F --queue URL --key-file F --cluster F

Without --rpc an embedded Anvil is started; with it, the operator key comes from OPERATOR_KEY.
Every flag is also the environment variable DEMO_<FLAG> (DEMO_BUYERS, DEMO_RPC, ...; the bare
names BUYERS, RPC, ... still work); the flag wins. The screen shows the processes' human lines
and the report; every process's whole output is in <workdir>/logs/<process>.log.

A service or agent that crashes is restarted with backoff (--restart-delay, doubled for each
restart within --restart-window), as compose's restart policy does, and said on the screen;
the market stops once one of them has crashed more than --restart-limit times within the
window. --no-restart: the first crash of a service ends the run. The processes' current PIDs
are in <workdir>/processes.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import traceback
from pathlib import Path

import httpx

from ledger_contracts import Deployment, LedgerError, account, connect, load_key, read_key_file
from ledger_contracts.testing import DEMO, Scenario, load_scenario, random_scenario

from .processes import ClusterError

ENV_PREFIX = "DEMO_"


def _env(name: str, default: str | None = None) -> str | None:
    """DEMO_<NAME>, else the bare <NAME> this command read before, else `default`."""
    return os.environ.get(ENV_PREFIX + name, os.environ.get(name, default))


def _scenario_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--buyers", type=int, default=_env("BUYERS"), help="random market: buyers")
    p.add_argument("--sellers", type=int, default=_env("SELLERS"), help="random market: sellers")
    p.add_argument("--seed", type=int, default=int(_env("SEED", "0") or 0))
    p.add_argument("--scenario", default=_env("SCENARIO"), help="a scenario JSON file")
    p.add_argument("--games", type=int, default=int(_env("GAMES", "1") or 1))


def scenario_of(args: argparse.Namespace) -> Scenario:
    if args.scenario and (args.buyers or args.sellers):
        raise ValueError("--scenario and --buyers/--sellers exclude each other")
    if args.scenario:
        return load_scenario(args.scenario)
    if args.buyers or args.sellers:
        if not (args.buyers and args.sellers) or args.buyers < 1 or args.sellers < 1:
            raise ValueError("a random market needs both --buyers N and --sellers M, each >= 1")
        # Generous windows: many agent processes share this machine's cores; a live buyer
        # answers long before its deadline, only a dead one costs the whole turn. Bidding ends
        # at the delivery end, and many buyers need many turns of simulated time: 2 hours.
        return random_scenario(
            int(args.buyers),
            int(args.sellers),
            seed=args.seed,
            turn_seconds=600,
            registration_seconds=300,
            round_limit=60,
            delivery_seconds=7200,
        )
    return DEMO


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["setup"]:
        return _setup(argv[1:])
    if argv[:1] == ["meter"]:
        return _meter(argv[1:])
    parser = argparse.ArgumentParser(
        prog="python -m demo",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _scenario_flags(parser)
    parser.add_argument("--rpc", default=_env("RPC"), help="an existing chain (default: Anvil)")
    parser.add_argument("--json", default=_env("JSON"), help="write the result to this file")
    parser.add_argument(
        "--chart",
        default=_env("CHART", "demo-convergence.png"),
        help="PNG of the first game's convergence ('' for none)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=float(_env("SPEED", "20") or 20),
        help="chain seconds per wall second (simulated time; 1 = real time)",
    )
    parser.add_argument(
        "--strategy",
        choices=("best-response", "equilibrium"),
        default=_env("STRATEGY", "best-response"),
        help="buyers' first bid: a best response, or their equilibrium share",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=float(_env("TIMEOUT", "600") or 600),
        help="give up after S seconds",
    )
    parser.add_argument(
        "--workdir",
        default=_env("WORKDIR"),
        help="keys, deployment, queue db, and logs/<process>.log",
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        default=(_env("QUIET") or "0").lower() not in ("0", "false", "no"),
        help="no interleaved process log",
    )
    parser.add_argument(
        "--restart-limit",
        type=int,
        default=int(_env("RESTART_LIMIT", "5") or 5),
        help="restarts of one process allowed within the window (default 5)",
    )
    parser.add_argument(
        "--restart-window",
        type=float,
        default=float(_env("RESTART_WINDOW", "60") or 60),
        help="seconds over which restarts are counted (default 60)",
    )
    parser.add_argument(
        "--restart-delay",
        type=float,
        default=float(_env("RESTART_DELAY", "1") or 1),
        help="seconds before the first restart, doubled for each further one "
        "in the window, at most 30 (default 1)",
    )
    parser.add_argument(
        "--no-restart",
        action="store_true",
        default=(_env("NO_RESTART") or "0").lower() not in ("0", "false", "no"),
        help="restart nothing: a crashed service ends the run",
    )
    args = parser.parse_args(argv)
    from .run import DemoOptions, run_demo
    from .supervision import RestartPolicy

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="gridgame-demo-"))
    try:
        opt = DemoOptions(
            scenario=scenario_of(args),
            workdir=workdir,
            rpc=args.rpc,
            games=args.games,
            speed=args.speed,
            json_path=args.json,
            chart_path=args.chart or None,
            strategy=args.strategy,
            timeout=args.timeout,
            quiet=args.quiet,
            restart=None
            if args.no_restart
            else RestartPolicy(
                limit=args.restart_limit,
                window=args.restart_window,
                delay=args.restart_delay,
                max_delay=max(30.0, args.restart_delay),
            ),
        )
        if opt.games < 1:
            raise ValueError("--games must be at least 1")
        run_demo(opt)
    except (ValueError, LedgerError, ClusterError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except httpx.HTTPError as exc:
        print(f"error: a service did not answer as expected: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: every process stopped", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line here, the traceback in the demo's own log
        log = workdir / "logs" / "demo.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(traceback.format_exc())
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (traceback in {log})", file=sys.stderr
        )
        return 1
    return 0


def _setup(argv: list[str]) -> int:
    from .setup import setup_market

    p = argparse.ArgumentParser(
        prog="python -m demo setup", description="deploy and set a market up; write keys and files"
    )
    _scenario_flags(p)
    p.add_argument("--rpc", default=_env("RPC", "http://127.0.0.1:8545"))
    p.add_argument("--out", default=_env("OUT", "demo-market"), help="directory to write")
    args = p.parse_args(argv)
    try:
        w3 = connect(args.rpc, wait=60)
        operator = account(load_key(None, env="OPERATOR_KEY", w3=w3))
        setup_market(w3, operator, scenario_of(args), Path(args.out), args.games)
    except (ValueError, LedgerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _meter(argv: list[str]) -> int:
    from .meter import MeterSimulator

    p = argparse.ArgumentParser(
        prog="python -m demo meter",
        description="post every participant's reading once trades "
        "are fixed (full delivery unless --delivery)",
    )
    p.add_argument("--rpc", default=_env("RPC", "http://127.0.0.1:8545"))
    p.add_argument("--deployment", default=_env("DEPLOYMENT", "deployment.json"))
    p.add_argument("--queue", default=_env("QUEUE", "http://127.0.0.1:8082"))
    p.add_argument("--key-file", default=_env("KEY_FILE"), required=_env("KEY_FILE") is None)
    p.add_argument("--cluster", default=_env("CLUSTER"), help="cluster.json (names)")
    p.add_argument(
        "--delivery",
        default=_env("DELIVERY", "{}"),
        help="JSON factors by name, e.g. '{\"S001\": 0.5}'",
    )
    args = p.parse_args(argv)
    try:
        w3 = connect(args.rpc, wait=30)
        deployment = Deployment.load(args.deployment)
        names = {}
        if args.cluster:
            cluster = json.loads(Path(args.cluster).read_text())
            names = {q["address"]: q["name"] for q in cluster["participants"]}
        meter = account(read_key_file(args.key_file))
        sim = MeterSimulator(
            w3,
            deployment,
            args.queue,
            meter,
            names,
            json.loads(args.delivery),
            log=lambda m: print(m, flush=True),
        )
        sim.run(stop=threading.Event().is_set)
    except (ValueError, LedgerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
