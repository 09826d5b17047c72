"""A market scenario: sellers (kWh, price), buyers (kWh), grid zones, prices and game timing.

The default is the original system's demo game; `random_scenario` makes reproducible ones and
`load_scenario` reads a JSON file with the same field names as `Scenario`.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

DEFAULT_HOPS = ((0, 1, 2), (1, 0, 1), (2, 1, 0))


@dataclass(frozen=True)
class Scenario:
    sellers: tuple[tuple[float, float], ...]  # (capacity kWh, base price per kWh)
    buyers: tuple[float, ...]  # demand kWh
    seller_zones: tuple[int, ...]
    buyer_zones: tuple[int, ...]
    hop_matrix: tuple[tuple[int, ...], ...] = DEFAULT_HOPS
    grid_retail: float = 0.25
    grid_feed_in: float = 0.05
    fee_per_hop: float = 0.02
    epsilon_wh: int = 5
    round_limit: int = 50
    turn_seconds: int = 60
    registration_seconds: int = 60
    delivery_seconds: int = 900

    def __post_init__(self) -> None:
        problems = []
        if not self.sellers or not self.buyers:
            problems.append("needs at least one seller and one buyer")
        if len(self.seller_zones) != len(self.sellers):
            problems.append("seller_zones must have one zone per seller")
        if len(self.buyer_zones) != len(self.buyers):
            problems.append("buyer_zones must have one zone per buyer")
        zones = len(self.hop_matrix)
        if any(len(row) != zones for row in self.hop_matrix):
            problems.append("hop_matrix must be square")
        if any(not 0 <= z < zones for z in (*self.seller_zones, *self.buyer_zones)):
            problems.append(f"zones must be in 0..{zones - 1}")
        if any(c <= 0 or not 0 < p < self.grid_retail for c, p in self.sellers):
            problems.append("every seller needs capacity > 0 and 0 < price < grid_retail")
        if any(d <= 0 for d in self.buyers):
            problems.append("every buyer needs a demand > 0")
        if not 0 <= self.grid_feed_in < self.grid_retail:
            problems.append("grid_feed_in must be below grid_retail")
        if problems:
            raise ValueError("invalid scenario: " + "; ".join(problems))

    @property
    def prosumers(self) -> int:
        return len(self.sellers) + len(self.buyers)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# The original system's demo game: 4 sellers, 7 buyers.
DEMO = Scenario(
    sellers=((350, 0.14), (36, 0.0838), (29, 0.0784), (49, 0.0666)),
    buyers=(34, 47, 13, 28, 31, 29, 15),
    seller_zones=(0, 1, 2, 0),
    buyer_zones=(0, 1, 2, 0, 1, 2, 1),
)


def random_scenario(buyers: int, sellers: int, seed: int = 0, **overrides: Any) -> Scenario:
    """Sellers of 20-400 kWh at 0.06-0.15, buyers of 5-50 kWh, spread over three zones."""
    rng = random.Random(seed)
    return Scenario(
        sellers=tuple(
            (round(rng.uniform(20, 400), 1), round(rng.uniform(0.06, 0.15), 4))
            for _ in range(sellers)
        ),
        buyers=tuple(round(rng.uniform(5, 50), 1) for _ in range(buyers)),
        seller_zones=tuple(rng.randrange(3) for _ in range(sellers)),
        buyer_zones=tuple(rng.randrange(3) for _ in range(buyers)),
        **overrides,
    )


def load_scenario(path: str | Path) -> Scenario:
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        raise ValueError(f"scenario file {p} not found") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"scenario file {p} is not JSON: {exc}") from None
    if "turn_deadline" in data and "turn_seconds" not in data:  # the former name of turn_seconds
        data["turn_seconds"] = data.pop("turn_deadline")
    known = {f.name for f in fields(Scenario)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"scenario file {p}: unknown field(s) {', '.join(unknown)}")
    try:
        return Scenario(**_tuples(data))
    except TypeError as exc:
        raise ValueError(f"scenario file {p}: {exc}") from None


def _tuples(data: dict[str, Any]) -> dict[str, Any]:
    def conv(v: Any) -> Any:
        return tuple(conv(x) for x in v) if isinstance(v, list) else v

    return {k: conv(v) for k, v in data.items()}
