"""What the tests, the benchmarks and the demo's set-up use, and no live service runs:
market scenarios and a whole game driven in-process with every prosumer's key.

    from ledger_contracts.testing import DEMO, ScriptedMarket
"""

from .scenario import DEMO, Scenario, load_scenario, random_scenario
from .scripted import (
    OPERATOR_FLOAT,
    GameRun,
    ScriptedMarket,
    SettlementRun,
    advance_time,
)

__all__ = [
    "DEMO",
    "OPERATOR_FLOAT",
    "GameRun",
    "Scenario",
    "ScriptedMarket",
    "SettlementRun",
    "advance_time",
    "load_scenario",
    "random_scenario",
]
