"""`python -m ledger_contracts` — deploy the contracts, print their events.

    python -m ledger_contracts deploy [--rpc URL] [--key-file F] [--out FILE]
    python -m ledger_contracts events [--rpc URL] [--deployment FILE] [--game N] [--follow] [--json]

Flags fall back to environment variables of the same name (RPC, DEPLOYMENT, KEY_FILE, ...).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from .chain import DEFAULT_RPC, account, connect
from .deployment import Deployment, deploy
from .errors import LedgerError
from .events import EventReader
from .keys import load_key


def _env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ledger_contracts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    dep = sub.add_parser("deploy", help="deploy the contracts and write a deployment file")
    dep.add_argument("--rpc", default=_env("RPC", DEFAULT_RPC))
    dep.add_argument(
        "--key-file",
        default=_env("KEY_FILE"),
        help="file holding the operator's private key, hex or keystore (else "
        "env OPERATOR_KEY; on a local Anvil chain, its first dev key)",
    )
    dep.add_argument("--out", default=_env("DEPLOYMENT", "deployment.json"))

    ev = sub.add_parser("events", help="print every decoded contract event in order")
    ev.add_argument("--rpc", default=_env("RPC", DEFAULT_RPC))
    ev.add_argument("--deployment", default=_env("DEPLOYMENT", "deployment.json"))
    ev.add_argument("--game", type=int, default=None, help="only the events of game N")
    ev.add_argument("--from-block", type=int, default=None)
    ev.add_argument("--follow", action="store_true", help="keep printing new events")
    ev.add_argument("--interval", type=float, default=1.0, help="poll interval with --follow (s)")
    ev.add_argument("--json", action="store_true", help="one JSON object per line")

    args = parser.parse_args(argv)
    try:
        if args.command == "deploy":
            return _deploy(args)
        return _events(args)
    except LedgerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def _deploy(args: argparse.Namespace) -> int:
    w3 = connect(args.rpc)
    operator = account(load_key(args.key_file, env="OPERATOR_KEY", w3=w3))
    deployment = deploy(w3, operator)
    deployment.save(args.out)
    for name, address in deployment.contracts.items():
        print(f"{name:<14} {address}")
    print(f"deployment written to {args.out} (chain {deployment.chain_id})")
    return 0


def _events(args: argparse.Namespace) -> int:
    w3 = connect(args.rpc)
    deployment = Deployment.load(args.deployment)
    deployment.check_chain(w3)
    reader = EventReader(w3, deployment)
    show = (
        (lambda e: print(e.to_json(), flush=True))
        if args.json
        else (lambda e: print(e.to_text(), flush=True))
    )
    last = w3.eth.block_number
    for event in reader.read(from_block=args.from_block, to_block=last, game=args.game):
        show(event)
    while args.follow:
        time.sleep(args.interval)
        head = w3.eth.block_number
        if head > last:
            for event in reader.read(from_block=last + 1, to_block=head, game=args.game):
                show(event)
            last = head
    return 0


if __name__ == "__main__":
    sys.exit(main())
