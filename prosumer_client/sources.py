"""What a prosumer brings to a game: a fixed offer or demand, or the period's net energy from
its profile.

A profile's period for a game is chosen by the game's delivery window, which starts when
registration ends (`registrationEnd`, chain time): the row whose interval contains that
moment, the profile's clock being UTC + `utc_offset_hours` and the profile repeating after its
span (so a one-day profile matches by time of day). With `period="game"` it is row
(game id - 1) modulo the profile's length instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from ledger_contracts import kwh_to_wh

from .profiles import Period, Profile

Role = Literal["seller", "buyer"]


@dataclass(frozen=True)
class Intent:
    """An offer (seller: `kwh` at `price`) or a demand (buyer: `kwh`) for one game."""

    role: Role
    kwh: float
    price: float | None = None
    period: Period | None = None  # the profile row it came from, if any


class Source(Protocol):
    def intent(self, game_id: int, delivery_start: int) -> Intent | None:
        """What to publish in game `game_id` (delivery from `delivery_start`, unix seconds);
        None to sit the game out."""
        ...

    def describe(self) -> str: ...


@dataclass(frozen=True)
class Fixed:
    """The same offer or demand in every game."""

    role: Role
    kwh: float
    price: float | None = None

    def intent(self, game_id: int, delivery_start: int) -> Intent | None:
        return Intent(self.role, self.kwh, self.price)

    def describe(self) -> str:
        if self.role == "seller":
            return f"seller with offer amount: {_num(self.kwh)}, price: {_num(self.price or 0)}"
        return f"buyer with demand amount: {_num(self.kwh)}"


@dataclass(frozen=True)
class FromProfile:
    """The period's net energy (PV - load) times `scale`: a surplus is offered at `price`, a
    deficit demanded; less than 1 Wh either way sits the game out."""

    profile: Profile
    price: float
    period: Literal["time", "game"] = "time"
    utc_offset_hours: float = 0.0
    scale: float = 1.0

    def intent(self, game_id: int, delivery_start: int) -> Intent | None:
        row = (
            self.profile.for_game(game_id)
            if self.period == "game"
            else self.profile.at_timestamp(delivery_start, self.utc_offset_hours)
        )
        net = row.net_kwh * self.scale
        if kwh_to_wh(abs(net)) < 1:
            return None
        if net > 0:
            return Intent("seller", net, self.price, row)
        return Intent("buyer", -net, None, row)

    def describe(self) -> str:
        return (
            f"prosumer with profile {self.profile.path} ({len(self.profile)} periods of "
            f"{_minutes(self.profile)} min, by {self.period}), offer price: "
            f"{_num(self.price)}"
        )


def _num(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _minutes(profile: Profile) -> str:
    return _num(profile.interval.total_seconds() / 60)
