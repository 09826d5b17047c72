"""Units: on chain energy is Wh and prices are micro-units of the token per kWh; off chain,
kWh and currency units as floats. Conversions round to the nearest integer on the way in."""

from __future__ import annotations

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
