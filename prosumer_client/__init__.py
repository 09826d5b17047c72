"""gridgame: prosumer_client — the library and CLI a prosumer uses.

    MarketReader     typed reads of the market (games, offers, demands, turn state) in kWh
    Prosumer         offer / demand (escrow approved) / bid / stand / meter readings, signed
                     and relayed by the queue
    Agent, decide    the playing agent and its pure decision function
    Follower         the contracts' events as they are mined (log filter)
    Profile          energy profiles (CSV), Fixed / FromProfile: what to trade per game
    Contract         eth_abi-encoded contract calls over the ledger's `Rpc`

The JSON-RPC client is the ledger's (`ledger_contracts.Rpc`), the queue's client the queue's
(`tx_queue.client.RelayClient`).
"""

from .agent import Agent
from .client import Prosumer, Settlement
from .decision import STRATEGIES, Action, Decision, TurnContext, decide, equilibrium_share
from .errors import (
    OptimizerError,
    OptimizerRefused,
    OptimizerUnavailable,
    ProfileError,
    ProsumerError,
    Refused,
    SettlementNotDeployed,
)
from .follower import Follower
from .market import (
    Demand,
    GameInfo,
    GameParams,
    GamePrices,
    GameState,
    GameStatus,
    MarketReader,
    Offer,
    Participation,
    ProsumerRecord,
)
from .profiles import Period, Profile
from .solver import BestResponse, BestResponseQuery, OptimizerClient
from .sources import Fixed, FromProfile, Intent, Source
from .tracking import GameSummary
from .views import Contract

__all__ = [
    "STRATEGIES",
    "Action",
    "Agent",
    "BestResponse",
    "BestResponseQuery",
    "Contract",
    "Decision",
    "Demand",
    "Fixed",
    "Follower",
    "FromProfile",
    "GameInfo",
    "GameParams",
    "GamePrices",
    "GameState",
    "GameStatus",
    "GameSummary",
    "Intent",
    "MarketReader",
    "Offer",
    "OptimizerClient",
    "OptimizerError",
    "OptimizerRefused",
    "OptimizerUnavailable",
    "Participation",
    "Period",
    "Profile",
    "ProfileError",
    "Prosumer",
    "ProsumerError",
    "ProsumerRecord",
    "Refused",
    "Settlement",
    "SettlementNotDeployed",
    "Source",
    "TurnContext",
    "decide",
    "equilibrium_share",
]
