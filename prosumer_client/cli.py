"""`python -m prosumer_client COMMAND [flags]` — a prosumer on the market.

    offer    --game N --kwh X --price P        publish an offer in game N
    demand   --game N --kwh X                  publish a demand in game N
    play     (--sell KWH --price P | --buy KWH | --profile CSV --price P) [--games N]
             the agent: registers in every game it sees open and plays its turns
    meter    --game N --produced KWH --consumed KWH [--prosumer ADDR]   (meter role)
    balance  / history                         the wallet (needs the Settlement contract)
    status   [--game N] [--address ADDR]       the prosumer's record and a game's state
    keys new --out FILE / keys show FILE       a new key as an encrypted keystore; its address

Common flags (also environment variables PROSUMER_<FLAG>): --rpc, --deployment, --queue,
--optimizer, --key-file, --name, --log-level, --json. The private key comes from --key-file (a
hex key or a keystore, whose password is GRIDGAME_KEYSTORE_PASSWORD or asked on a terminal) or
the environment variable PROSUMER_KEY, never from the command line.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from ledger_contracts import LedgerError, kwh_to_wh
from tx_queue.errors import RelayError

from . import commands, keystore
from .agent import STRATEGIES
from .errors import ProsumerError
from .logs import LEVELS
from .settings import Settings

MAX_WH = 2**32 - 1


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def energy(text: str) -> float:
    """kWh: positive, at least 1 Wh, at most the market's largest amount."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of kWh, not {text!r}")
    if not 1 <= kwh_to_wh(value) <= MAX_WH:
        raise argparse.ArgumentTypeError(f"{text!r} kWh is outside 0.001 .. {MAX_WH / 1000:g}")
    return value


def metered(text: str) -> float:
    """kWh of a reading: 0 or more, at most the chain's largest reading (2^32 - 1 Wh)."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of kWh >= 0, not {text!r}")
    if kwh_to_wh(value) > MAX_WH:
        raise argparse.ArgumentTypeError(
            f"{text!r} kWh is above the largest reading, {MAX_WH / 1000:g} kWh"
        )
    return value


def price(text: str) -> float:
    value = _number(text)
    if not 0 < value < 1e12:
        raise argparse.ArgumentTypeError(f"must be a positive price per kWh, not {text!r}")
    if round(value * 1e6) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is below the smallest price 0.000001")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {text!r}")
    return value


def count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (forever) or more, not {text!r}")
    return value


def scale(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text!r}")
    return value


def address(text: str) -> str:
    from web3 import Web3

    if not Web3.is_address(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an Ethereum address")
    return str(Web3.to_checksum_address(text))


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    g = common.add_argument_group("connection and identity (env PROSUMER_<FLAG>)")
    g.add_argument("--rpc", help="JSON-RPC URL of the node (default http://127.0.0.1:8545)")
    g.add_argument("--deployment", help="deployment file (default deployment.json)")
    g.add_argument("--queue", help="transaction queue URL (default http://127.0.0.1:8082)")
    g.add_argument("--optimizer", help="optimizer URL (default http://127.0.0.1:8081)")
    g.add_argument(
        "--key-file", help="file holding the private key, hex or a keystore (else env PROSUMER_KEY)"
    )
    g.add_argument("--name", help="log tag, e.g. P003 or S001 (default PROSUMER)")
    g.add_argument("--log-level", choices=list(LEVELS), help="default info")
    g.add_argument("--json", action="store_true", help="machine-readable output on stdout")

    top = argparse.ArgumentParser(
        prog="python -m prosumer_client",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        # No abbreviations: `--key 0x...` must not pass for `--key-file` (and echo a key).
        return sub.add_parser(
            name, parents=[common], help=help_text, description=help_text, allow_abbrev=False
        )

    p = add("offer", "publish an offer in a game")
    p.add_argument("--game", type=positive_int, required=True)
    p.add_argument("--kwh", type=energy, required=True, help="energy offered (kWh)")
    p.add_argument("--price", type=price, required=True, help="base price per kWh")

    p = add("demand", "publish a demand in a game (escrow approved first once settlement exists)")
    p.add_argument("--game", type=positive_int, required=True)
    p.add_argument("--kwh", type=energy, required=True, help="energy demanded (kWh)")

    p = add("play", "the agent: register in every game that opens and play the turns")
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--sell", type=energy, metavar="KWH", help="offer KWH in every game")
    what.add_argument("--buy", type=energy, metavar="KWH", help="demand KWH in every game")
    what.add_argument("--profile", metavar="CSV", help="net energy per period from a profile")
    p.add_argument("--price", type=price, help="offer price per kWh (--sell, --profile)")
    p.add_argument(
        "--games", type=count, default=0, help="stop after N games ended (default 0: run forever)"
    )
    p.add_argument(
        "--period",
        choices=["time", "game"],
        default="time",
        help="profile row by the delivery start (default) or by game number",
    )
    p.add_argument(
        "--utc-offset",
        type=_number,
        default=0.0,
        metavar="HOURS",
        help="the profile's clock is UTC + HOURS (default 0)",
    )
    p.add_argument("--scale", type=scale, default=1.0, help="multiply profile energy")
    p.add_argument("--time-column", help="profile column of the times")
    p.add_argument("--load-column", help="profile column of the load")
    p.add_argument("--pv-column", help="profile column of the PV production")
    p.add_argument(
        "--poll-interval",
        type=scale,
        metavar="SECONDS",
        help="how often to look for new blocks (default 0.01)",
    )
    p.add_argument(
        "--follow",
        choices=["logs", "filter"],
        help="follow events by block range (eth_getLogs, default) or with a node "
        "filter (eth_getFilterChanges)",
    )
    p.add_argument(
        "--method",
        choices=["exact", "slsqp"],
        default="exact",
        help="the optimizer's best-response method",
    )
    p.add_argument(
        "--strategy",
        choices=list(STRATEGIES),
        default="best-response",
        help="a buyer's first bid: its best response (default) or its share of "
        "the game's equilibrium",
    )

    p = add("meter", "post a prosumer's metered energy for a game (meter role)")
    p.add_argument("--game", type=positive_int, required=True)
    p.add_argument("--prosumer", type=address, help="whose reading (default: the key's own)")
    p.add_argument("--produced", type=metered, required=True, help="kWh delivered")
    p.add_argument("--consumed", type=metered, required=True, help="kWh consumed")

    p = add("balance", "token balance and escrow")
    p.add_argument("--address", type=address, help="whose (default: the key's)")

    p = add("history", "trades and payments")
    p.add_argument("--address", type=address, help="whose (default: the key's)")
    p.add_argument("--game", type=positive_int, help="only game N")

    p = add("status", "the prosumer's record and a game's phase, round, turn, bid and loads")
    p.add_argument("--game", type=positive_int, help="default: the latest game")
    p.add_argument("--address", type=address, help="whose (default: the key's)")

    p = sub.add_parser(
        "keys",
        help="a new key as an encrypted keystore; a key file's address",
        description=keystore.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    k = actions.add_parser(
        "new", help="create a key and write it as a keystore (mode 0600)", allow_abbrev=False
    )
    k.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the keystore to write (an existing file is never overwritten)",
    )
    k.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    k = actions.add_parser(
        "show", help="the address of a key file (hex key or keystore)", allow_abbrev=False
    )
    k.add_argument("file", metavar="FILE")
    k.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    return top


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "offer": commands.offer,
    "demand": commands.demand,
    "play": commands.play,
    "meter": commands.meter,
    "balance": commands.balance,
    "history": commands.history,
    "status": commands.status,
    "keys": keystore.keys,
}


def settings_of(args: argparse.Namespace) -> Settings:
    names = (
        "rpc",
        "deployment",
        "queue",
        "optimizer",
        "key_file",
        "name",
        "log_level",
        "poll_interval",
        "follow",
    )
    flags: dict[str, Any] = {
        n: getattr(args, n) for n in names if getattr(args, n, None) is not None
    }
    return Settings(**flags)


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)
    try:
        settings = settings_of(args)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        top.exit(2, f"python -m prosumer_client: error: {problems}\n")
    if args.command == "play":
        if args.price is None and (args.sell is not None or args.profile is not None):
            top.exit(
                2,
                "python -m prosumer_client play: error: --price is required with "
                f"{'--sell' if args.sell is not None else '--profile'}\n",
            )
        if args.price is not None and args.buy is not None:
            top.exit(
                2,
                "python -m prosumer_client play: error: --price goes with --sell or "
                "--profile, not --buy\n",
            )
    try:
        return COMMANDS[args.command](args, settings)
    except (ProsumerError, RelayError, LedgerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
