"""gridgame: prosumer_client — the library and CLI a prosumer uses.

    MarketReader     typed reads of the market (games, offers, demands, turn state) in kWh
    Prosumer         offer / demand / bid / stand, signed and relayed by the queue
    Agent, decide    the playing agent and its pure decision function
    Profile          energy profiles (CSV), Fixed / FromProfile: what to trade per game
    RelayClient      the transaction queue's client (`relay`)
"""

from .agent import Action, Agent, Decision, GameSummary, TurnContext, decide
from .client import Prosumer
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
from .relay import (
    Outcome,
    RelayClient,
    RelayError,
    RelayUnavailable,
    RequestFailed,
    RequestRefused,
    RequestReverted,
    WaitTimeout,
)
from .solver import BestResponse, BestResponseQuery, OptimizerClient
from .sources import Fixed, FromProfile, Intent, Source

__all__ = [
    "Action", "Agent", "BestResponse", "BestResponseQuery", "Decision", "Demand", "Fixed",
    "Follower", "FromProfile", "GameInfo", "GameParams", "GamePrices", "GameState",
    "GameStatus", "GameSummary", "Intent", "MarketReader", "Offer", "OptimizerClient",
    "OptimizerError", "OptimizerRefused", "OptimizerUnavailable", "Outcome", "Participation",
    "Period", "Profile", "ProfileError", "Prosumer", "ProsumerError", "ProsumerRecord",
    "Refused", "RelayClient", "RelayError", "RelayUnavailable", "RequestFailed",
    "RequestRefused", "RequestReverted", "SettlementNotDeployed", "Source", "TurnContext",
    "WaitTimeout", "decide",
]
