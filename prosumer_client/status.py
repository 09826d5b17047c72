"""A prosumer's record and its view of a game, as data (`status_of`, kWh) and as text
(`status_text`): what `python -m prosumer_client status` prints."""

from __future__ import annotations

import time
from typing import Any

from ledger_contracts import wh_to_kwh

from .errors import ProsumerError
from .logs import kwh, kwh_list
from .market import MarketReader


def status_of(reader: MarketReader, who: str, game_id: int | None = None) -> dict[str, Any]:
    """The prosumer's record and its view of a game (the latest by default), in kWh."""
    record = reader.prosumer(who)
    out: dict[str, Any] = {
        "address": record.address,
        "prosumer": {
            "admitted": record.admitted,
            "admission_index": record.admission_index,
            "meter_id": record.meter_id,
            "zone": record.zone,
            "produced_kwh": record.produced,
            "consumed_kwh": record.consumed,
        },
        "game": None,
    }
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
        "id": game_id,
        "phase": info.status.phase,
        "end_reason": info.status.end_reason,
        "round": info.status.round,
        "turn": info.status.turn,
        "current_buyer": state.current_buyer,
        "turn_deadline": info.status.turn_deadline,
        "registration_end": info.params.registration_end,
        "delivery_end": info.params.delivery_end,
        "round_limit": info.params.round_limit,
        "epsilon_wh": info.params.epsilon_wh,
        "grid_retail": info.prices.retail,
        "grid_feed_in": info.prices.feed_in,
        "transmission_fee": info.prices.transmission_fee,
        "buyers": info.status.buyer_count,
        "sellers": [
            {
                "index": o.index,
                "seller": o.seller,
                "kwh": o.kwh,
                "price": o.price,
                "load_kwh": state.loads[o.index] if o.index < len(state.loads) else 0.0,
            }
            for o in offers
        ],
        "role": part.role,
        "index": part.index if part.role != "none" else None,
    }
    if part.role == "seller":
        game["offer"] = {"kwh": offers[part.index].kwh, "price": offers[part.index].price}
    elif part.role == "buyer":
        mine = next(d for d in reader.demands(game_id) if d.buyer.lower() == who.lower())
        game["demand_kwh"] = mine.kwh
        game["bid_kwh"] = (
            [wh_to_kwh(v) for v in reader.bid_of(game_id, who)]
            if info.status.phase != "registration"
            else None
        )
    out["game"] = game
    return out


def _when(unix: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(unix)) if unix else "-"


def status_text(data: dict[str, Any]) -> str:
    p = data["prosumer"]
    lines = [f"prosumer {data['address']}"]
    if p["admitted"]:
        lines.append(
            f"  admitted (#{p['admission_index']}), zone {p['zone']}, meter {p['meter_id']}"
        )
    else:
        lines.append("  not admitted" + (" (revoked)" if p["admission_index"] else ""))
    lines.append(
        f"  metered: produced {kwh(p['produced_kwh'])} kWh, consumed {kwh(p['consumed_kwh'])} kWh"
    )
    g = data["game"]
    if g is None:
        lines.append("no game opened yet")
        return "\n".join(lines)
    phase = g["phase"]
    if phase == "bidding":
        phase += (
            f", round {g['round']}, turn {g['turn'] + 1} of {g['buyers']} (buyer "
            f"{g['current_buyer']}, until {_when(g['turn_deadline'])})"
        )
    elif phase == "ended":
        phase += f" ({g['end_reason']} after {g['round']} rounds)"
    lines.append(f"game {g['id']}: {phase}")
    lines.append(
        f"  registration ends {_when(g['registration_end'])}, delivery ends "
        f"{_when(g['delivery_end'])}; epsilon {g['epsilon_wh']} Wh, round limit "
        f"{g['round_limit']}; grid {kwh(g['grid_retail'])}/{kwh(g['grid_feed_in'])}, "
        f"fee {kwh(g['transmission_fee'])} per hop"
    )
    if g["role"] == "seller":
        lines.append(
            f"  role: seller #{g['index']}, offer {kwh(g['offer']['kwh'])} kWh at "
            f"{kwh(g['offer']['price'])}"
        )
    elif g["role"] == "buyer":
        lines.append(f"  role: buyer #{g['index']}, demand {kwh(g['demand_kwh'])} kWh")
        if g["bid_kwh"] is not None:
            lines.append(f"  bid (kWh per seller): {kwh_list(g['bid_kwh'])}")
    else:
        lines.append("  role: none in this game")
    lines.append(f"  sellers: {len(g['sellers'])}, buyers: {g['buyers']}")
    for s in g["sellers"]:
        lines.append(
            f"    #{s['index']} {s['seller']}  {kwh(s['kwh'])} kWh at "
            f"{kwh(s['price'])}, load {kwh(s['load_kwh'])} kWh"
        )
    return "\n".join(lines)
