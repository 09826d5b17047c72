"""Units: on chain energy is Wh and prices are micro-units of the token per kWh; off chain,
kWh and currency units as floats. Conversions round to the nearest integer on the way in."""

from __future__ import annotations

import math
from collections.abc import Sequence

WH_PER_KWH = 1000
MICRO = 1_000_000  # token base units per currency unit (the token has 6 decimals)


def kwh_to_wh(kwh: float) -> int:
    return int(round(kwh * WH_PER_KWH))


def wh_to_kwh(wh: int) -> float:
    return wh / WH_PER_KWH


def price_to_micro(price_per_kwh: float) -> int:
    return int(round(price_per_kwh * MICRO))


def micro_to_price(micro: int) -> float:
    return micro / MICRO


def to_wh_bid(
    x_kwh: Sequence[float], demand_wh: int, caps_wh: Sequence[float], others_kwh: Sequence[float]
) -> list[int]:
    """A bid of `x_kwh` per seller in whole Wh, rounded down: never above the demand nor any
    seller's free capacity (its capacity less the others' load)."""
    bid = [max(0, math.floor(v * WH_PER_KWH + 1e-9)) for v in x_kwh]
    for j, (cap, other) in enumerate(zip(caps_wh, others_kwh, strict=True)):
        bid[j] = min(bid[j], int(round(cap - other * WH_PER_KWH)))
    while sum(bid) > demand_wh:  # float noise only: trim the largest entry
        bid[bid.index(max(bid))] -= 1
    return bid
