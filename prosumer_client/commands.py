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
    wh_to_kwh,
)
from tx_queue.client import Outcome, RelayClient

from .agent import Agent, GameSummary
from .client import Prosumer
from .errors import ProsumerError
from .follower import Follower
from .logs import kwh, kwh_list, setup, tagged
from .market import MarketReader
from .profiles import Profile
from .settings import KEY_ENV, Settings
from .solver import OptimizerClient
from .sources import Fixed, FromProfile, Source
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
    data = {"game": args.game, "role": "seller", "index": index, "kwh": args.kwh,
            "price": args.price, "address": prosumer.address, **_receipt(outcome)}
    _print(args, data, f"offer published: game {args.game}, {kwh(args.kwh)} kWh at "
                       f"{kwh(args.price)} per kWh (seller #{index}, block "
                       f"{outcome.block_number}, tx {outcome.tx_hash})")
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
    data = {"game": args.game, "role": "buyer", "index": index, "kwh": args.kwh,
            "address": prosumer.address, **_receipt(outcome)}
    _print(args, data, f"demand published: game {args.game}, {kwh(args.kwh)} kWh (buyer "
                       f"#{index}, block {outcome.block_number}, tx {outcome.tx_hash})")
    return 0


# ---------------------------------------------------------------------- play


def source_of(args: argparse.Namespace) -> Source:
    if args.sell is not None:
        return Fixed("seller", args.sell, args.price)
    if args.buy is not None:
        return Fixed("buyer", args.buy)
    profile = Profile.load(args.profile, time_column=args.time_column,
                           load_column=args.load_column, pv_column=args.pv_column)
    return FromProfile(profile, args.price, args.period, args.utc_offset, args.scale)


def play(args: argparse.Namespace, settings: Settings) -> int:
    setup(settings.log_level)
    log = tagged(settings.name)
    source = source_of(args)  # a bad profile or key fails before anything connects
    prosumer, deployment = _signing(settings, wait=10.0)
    optimizer = OptimizerClient(settings.optimizer, method=args.method,
                                timeout=settings.http_timeout)
    if not _wait_for(optimizer.health, 10.0):
        log.warning(f"the optimizer at {settings.optimizer} does not answer yet; turns fail "
                    "until it does")

    def report(summary: GameSummary) -> None:
        if args.json:
            print(json.dumps(summary.to_dict()), flush=True)

    follower = Follower(prosumer.reader.rpc, deployment, use_filter=settings.follow == "filter")
    agent = Agent(prosumer, follower, optimizer, source, name=settings.name,
                  poll_interval=settings.poll_interval, games=args.games,
                  on_game_end=report, strategy=args.strategy, log=log)
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
    data = {"game": args.game, "prosumer": who, "produced_kwh": args.produced,
            "consumed_kwh": args.consumed, "meter": prosumer.address, **_receipt(outcome)}
    _print(args, data, f"reading posted: game {args.game}, {who} produced "
                       f"{kwh(args.produced)} kWh, consumed {kwh(args.consumed)} kWh (block "
                       f"{outcome.block_number}, tx {outcome.tx_hash})")
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


def status_of(reader: MarketReader, who: str, game_id: int | None = None) -> dict[str, Any]:
    """The prosumer's record and its view of a game (the latest by default), in kWh."""
    record = reader.prosumer(who)
    out: dict[str, Any] = {
        "address": record.address,
        "prosumer": {"admitted": record.admitted, "admission_index": record.admission_index,
                     "meter_id": record.meter_id, "zone": record.zone,
                     "produced_kwh": record.produced, "consumed_kwh": record.consumed},
        "game": None}
    count = reader.game_count()
    if game_id is None:
        game_id = count or None
    if game_id is None:
        return out
    if game_id > count:
        raise ProsumerError(f"there is no game {game_id} (games opened: {count})")
    info = reader.game(game_id)
    state = reader.state(game_id)
    offers = reader.offers(game_id)
    part = reader.participant(game_id, who)
    game: dict[str, Any] = {
        "id": game_id, "phase": info.status.phase, "end_reason": info.status.end_reason,
        "round": info.status.round, "turn": info.status.turn,
        "current_buyer": state.current_buyer, "turn_deadline": info.status.turn_deadline,
        "registration_end": info.params.registration_end,
        "delivery_end": info.params.delivery_end, "round_limit": info.params.round_limit,
        "epsilon_wh": info.params.epsilon_wh, "grid_retail": info.prices.retail,
        "grid_feed_in": info.prices.feed_in, "transmission_fee": info.prices.transmission_fee,
        "buyers": info.status.buyer_count,
        "sellers": [{"index": o.index, "seller": o.seller, "kwh": o.kwh, "price": o.price,
                     "load_kwh": state.loads[o.index] if o.index < len(state.loads) else 0.0}
                    for o in offers],
        "role": part.role, "index": part.index if part.role != "none" else None,
    }
    if part.role == "seller":
        game["offer"] = {"kwh": offers[part.index].kwh, "price": offers[part.index].price}
    elif part.role == "buyer":
        mine = next(d for d in reader.demands(game_id) if d.buyer.lower() == who.lower())
        game["demand_kwh"] = mine.kwh
        game["bid_kwh"] = ([wh_to_kwh(v) for v in reader.bid_of(game_id, who)]
                           if info.status.phase != "registration" else None)
    out["game"] = game
    return out


def _when(unix: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix)) if unix else "-"


def status_text(data: dict[str, Any]) -> str:
    p = data["prosumer"]
    lines = [f"prosumer {data['address']}"]
    if p["admitted"]:
        lines.append(f"  admitted (#{p['admission_index']}), zone {p['zone']}, meter "
                     f"{p['meter_id']}")
    else:
        lines.append("  not admitted" + (" (revoked)" if p["admission_index"] else ""))
    lines.append(f"  metered: produced {kwh(p['produced_kwh'])} kWh, consumed "
                 f"{kwh(p['consumed_kwh'])} kWh")
    g = data["game"]
    if g is None:
        lines.append("no game opened yet")
        return "\n".join(lines)
    phase = g["phase"]
    if phase == "bidding":
        phase += (f", round {g['round']}, turn {g['turn'] + 1} of {g['buyers']} (buyer "
                  f"{g['current_buyer']}, until {_when(g['turn_deadline'])})")
    elif phase == "ended":
        phase += f" ({g['end_reason']} after {g['round']} rounds)"
    lines.append(f"game {g['id']}: {phase}")
    lines.append(f"  registration ends {_when(g['registration_end'])}, delivery ends "
                 f"{_when(g['delivery_end'])}; epsilon {g['epsilon_wh']} Wh, round limit "
                 f"{g['round_limit']}; grid {kwh(g['grid_retail'])}/{kwh(g['grid_feed_in'])}, "
                 f"fee {kwh(g['transmission_fee'])} per hop")
    if g["role"] == "seller":
        lines.append(f"  role: seller #{g['index']}, offer {kwh(g['offer']['kwh'])} kWh at "
                     f"{kwh(g['offer']['price'])}")
    elif g["role"] == "buyer":
        lines.append(f"  role: buyer #{g['index']}, demand {kwh(g['demand_kwh'])} kWh")
        if g["bid_kwh"] is not None:
            lines.append(f"  bid (kWh per seller): {kwh_list(g['bid_kwh'])}")
    else:
        lines.append("  role: none in this game")
    lines.append(f"  sellers: {len(g['sellers'])}, buyers: {g['buyers']}")
    for s in g["sellers"]:
        lines.append(f"    #{s['index']} {s['seller']}  {kwh(s['kwh'])} kWh at "
                     f"{kwh(s['price'])}, load {kwh(s['load_kwh'])} kWh")
    return "\n".join(lines)
