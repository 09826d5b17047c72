"""The CLI's commands: each takes the parsed flags and the settings and returns the exit code."""

from __future__ import annotations

import argparse
import json
import signal
import time
from typing import Any

from web3 import Web3

from ledger_contracts import (
    Deployment,
    LedgerError,
    Rpc,
    connect,
    key_file_address,
    load_key,
)
from tx_queue.client import Outcome, RelayClient

from .agent import Agent, GameSummary
from .client import Prosumer
from .errors import ProsumerError
from .follower import Follower
from .logs import kwh, setup, tagged
from .market import MarketReader
from .profiles import Profile
from .settings import KEY_ENV, Settings
from .solver import OptimizerClient
from .sources import Fixed, FromProfile, Source
from .status import status_of, status_text
from .wallet import Wallet, format_balances, format_history


def _chain(settings: Settings) -> tuple[Web3, Deployment]:
    deployment = Deployment.load(settings.deployment)
    return _connect(settings, deployment), deployment


def _connect(settings: Settings, deployment: Deployment, wait: float = 0.0) -> Web3:
    w3 = connect(settings.rpc, timeout=settings.rpc_timeout, wait=wait)
    deployment.check_chain(w3)
    return w3


def _key(settings: Settings) -> str:
    """The prosumer's key, checked (hex, or a keystore decrypted; `ledger_contracts.keys`)."""
    return load_key(settings.key_file, env=KEY_ENV)


def _signing(settings: Settings, wait: float = 0.0) -> tuple[Prosumer, Deployment]:
    """The prosumer of a command that signs. Its files, the deployment and then the key, are
    read and checked before anything connects: a bad one fails alone, the chain untouched."""
    deployment = Deployment.load(settings.deployment)
    key = _key(settings)
    w3 = _connect(settings, deployment, wait)
    relay = RelayClient(settings.queue, w3, deployment, key, timeout=settings.http_timeout)
    reader = MarketReader(w3, deployment, Rpc(settings.rpc, timeout=settings.rpc_timeout))
    return Prosumer(relay, reader), deployment


def _whose(args: argparse.Namespace, settings: Settings) -> str:
    """The address a read-only command is about: --address, else the key's (a keystore's
    recorded address: reading needs no password)."""
    if getattr(args, "address", None):
        return str(args.address)
    from eth_account import Account

    try:
        if settings.key_file:
            return key_file_address(settings.key_file)
        return str(Account.from_key(_key(settings)).address)
    except (LedgerError, ValueError) as exc:
        raise ProsumerError(f"{exc}; or name the prosumer with --address") from None


def _print(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data) if args.json else text, flush=True)


def _receipt(outcome: Outcome) -> dict[str, Any]:
    return {"request": outcome.id, "tx": outcome.tx_hash, "block": outcome.block_number}


# ---------------------------------------------------------------------- offer / demand


def offer(args: argparse.Namespace, settings: Settings) -> int:
    setup(settings.log_level)
    prosumer, _ = _signing(settings)
    try:
        prosumer.sync_clock()
        outcome = prosumer.offer(args.game, args.kwh, args.price)
        index = prosumer.reader.participant(args.game, prosumer.address).index
    finally:
        prosumer.close()
    data = {
        "game": args.game,
        "role": "seller",
        "index": index,
        "kwh": args.kwh,
        "price": args.price,
        "address": prosumer.address,
        **_receipt(outcome),
    }
    _print(
        args,
        data,
        f"offer published: game {args.game}, {kwh(args.kwh)} kWh at "
        f"{kwh(args.price)} per kWh (seller #{index}, block "
        f"{outcome.block_number}, tx {outcome.tx_hash})",
    )
    return 0


def demand(args: argparse.Namespace, settings: Settings) -> int:
    setup(settings.log_level)
    prosumer, _ = _signing(settings)
    try:
        prosumer.sync_clock()
        outcome = prosumer.demand(args.game, args.kwh)
        index = prosumer.reader.participant(args.game, prosumer.address).index
    finally:
        prosumer.close()
    data = {
        "game": args.game,
        "role": "buyer",
        "index": index,
        "kwh": args.kwh,
        "address": prosumer.address,
        **_receipt(outcome),
    }
    _print(
        args,
        data,
        f"demand published: game {args.game}, {kwh(args.kwh)} kWh (buyer "
        f"#{index}, block {outcome.block_number}, tx {outcome.tx_hash})",
    )
    return 0


# ---------------------------------------------------------------------- play


def source_of(args: argparse.Namespace) -> Source:
    if args.sell is not None:
        return Fixed("seller", args.sell, args.price)
    if args.buy is not None:
        return Fixed("buyer", args.buy)
    profile = Profile.load(
        args.profile,
        time_column=args.time_column,
        load_column=args.load_column,
        pv_column=args.pv_column,
    )
    return FromProfile(profile, args.price, args.period, args.utc_offset, args.scale)


def play(args: argparse.Namespace, settings: Settings) -> int:
    setup(settings.log_level)
    log = tagged(settings.name)
    source = source_of(args)  # a bad profile or key fails before anything connects
    prosumer, deployment = _signing(settings, wait=10.0)
    optimizer = OptimizerClient(
        settings.optimizer, method=args.method, timeout=settings.http_timeout
    )
    if not _wait_for(optimizer.health, 10.0):
        log.warning(
            f"the optimizer at {settings.optimizer} does not answer yet; turns fail until it does"
        )

    def report(summary: GameSummary) -> None:
        if args.json:
            print(json.dumps(summary.to_dict()), flush=True)

    follower = Follower(prosumer.reader.rpc, deployment, use_filter=settings.follow == "filter")
    agent = Agent(
        prosumer,
        follower,
        optimizer,
        source,
        name=settings.name,
        poll_interval=settings.poll_interval,
        games=args.games,
        on_game_end=report,
        strategy=args.strategy,
        log=log,
    )
    previous = signal.signal(signal.SIGTERM, lambda *_: agent.stop())
    try:
        agent.run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        follower.close()
        optimizer.close()
        prosumer.close()
    log.info(f"Stopped after {agent.ended} game(s) ended")
    return 0


def _wait_for(check: Any, seconds: float) -> bool:
    end = time.monotonic() + seconds
    while not check():
        if time.monotonic() >= end:
            return False
        time.sleep(0.1)
    return True


# ---------------------------------------------------------------------- settlement


def meter(args: argparse.Namespace, settings: Settings) -> int:
    setup(settings.log_level)
    prosumer, _ = _signing(settings)
    try:
        prosumer.sync_clock()
        who = args.prosumer or prosumer.address
        outcome = prosumer.post_reading(args.game, who, args.produced, args.consumed)
    finally:
        prosumer.close()
    data = {
        "game": args.game,
        "prosumer": who,
        "produced_kwh": args.produced,
        "consumed_kwh": args.consumed,
        "meter": prosumer.address,
        **_receipt(outcome),
    }
    _print(
        args,
        data,
        f"reading posted: game {args.game}, {who} produced "
        f"{kwh(args.produced)} kWh, consumed {kwh(args.consumed)} kWh (block "
        f"{outcome.block_number}, tx {outcome.tx_hash})",
    )
    return 0


def _wallet(args: argparse.Namespace, settings: Settings) -> Wallet:
    who = _whose(args, settings)
    w3, deployment = _chain(settings)
    return Wallet(w3, deployment, who)


def balance(args: argparse.Namespace, settings: Settings) -> int:
    balances = _wallet(args, settings).balances()
    _print(args, balances.to_dict(), format_balances(balances))
    return 0


def history(args: argparse.Namespace, settings: Settings) -> int:
    wallet = _wallet(args, settings)
    trades = wallet.history(game=args.game)
    if args.json:
        print(json.dumps([t.to_dict() for t in trades]), flush=True)
    else:
        print(format_history(trades, me=wallet.address), flush=True)
    return 0


# ---------------------------------------------------------------------- status


def status(args: argparse.Namespace, settings: Settings) -> int:
    who = _whose(args, settings)
    w3, deployment = _chain(settings)
    reader = MarketReader(w3, deployment, Rpc(settings.rpc, timeout=settings.rpc_timeout))
    try:
        data = status_of(reader, who, args.game)
    finally:
        reader.rpc.close()
    _print(args, data, status_text(data))
    return 0
