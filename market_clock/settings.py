"""Typed settings: every flag is also the environment variable `MARKET_CLOCK_<FLAG>`
(`--period 900` or `MARKET_CLOCK_PERIOD=900`); flags win. The bare names this service read
before (`PERIOD`, `RPC`, ...) still work, below the prefixed ones (docs/configuration.md).
The clock's private key is never a flag:
`--key-file FILE` or the environment variable CLOCK_KEY, else on a local Anvil chain (chain id
31337) Anvil's dev key number 1 (the operator deploys with number 0, the relay uses number 9).

All durations are seconds of chain time, except `tick` and `grace`, which are wall seconds.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from gridgame import ServiceSettings, max_body_field, port_field, service_config
from ledger_contracts import DEFAULT_RPC

CLOCK_DEV_KEY_INDEX = 1
KEY_ENV = "CLOCK_KEY"


class Settings(ServiceSettings):
    """Every flag is also the environment variable MARKET_CLOCK_<FLAG> (MARKET_CLOCK_PORT
    for --port); the bare name (PORT) still works, below it; the flag wins. See
    docs/configuration.md."""

    model_config = service_config("MARKET_CLOCK_", prog="python -m market_clock")
    legacy_env: ClassVar[bool] = True

    port: int = port_field(8083)
    max_body_bytes: int = max_body_field(64 * 1024)  # it serves GET /health only

    rpc: str = Field(DEFAULT_RPC, description="JSON-RPC URL of the Ethereum node")
    deployment: str = Field("deployment.json", description="deployment file (contract addresses)")
    queue: str = Field("http://127.0.0.1:8082", description="URL of the transaction queue")
    key_file: str | None = Field(
        None,
        description="file holding the clock's private key (else env CLOCK_KEY; Anvil: dev key 1)",
    )
    period: int = Field(900, ge=1, description="a game is opened every PERIOD s of chain time")
    registration: int = Field(120, ge=1, description="registration window (s)")
    delivery: int = Field(900, ge=1, description="delivery period after registration (s)")
    round_limit: int = Field(20, ge=1, lt=2**32, description="most rounds of bidding")
    turn_seconds: int = Field(30, ge=1, lt=2**32, description="seconds a buyer has per turn")
    epsilon_wh: int = Field(10, ge=0, lt=2**64, description="convergence tolerance (Wh)")
    games: int = Field(0, ge=0, description="stop once this many games are done (0 = never)")
    speed: float = Field(
        1.0,
        ge=1.0,
        le=1_000_000,
        description="chain seconds per wall second; "
        "above 1 the clock moves a dev chain's time (Anvil, Hardhat)",
    )
    tick: float = Field(0.05, gt=0, le=5, description="wall seconds between two looks at the chain")
    grace: float = Field(
        1.0,
        ge=0,
        le=60,
        description="simulated time: wall seconds every "
        "registration window and turn lasts at least",
    )
    meter_grace: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="simulated time: wall seconds "
        "the meters' window lasts at least, unless every reading is in "
        "sooner",
    )
    jump: bool = Field(
        True,
        description="simulated time: when only waiting is left, jump straight to the next deadline",
    )
    metering: int = Field(
        60,
        ge=0,
        description="settlement: seconds after a game's delivery "
        "end left to the meters before the clock closes the game",
    )
    chunk: int = Field(
        20,
        ge=1,
        le=10_000,
        description="settlement: items per fixTrades "
        "and closeGame call (a seller, or a buyer's trades with 128 sellers)",
    )
    request_timeout: float = Field(60.0, gt=0, description="wall seconds to await one request")
    startup_wait: float = Field(
        30.0, ge=0, description="wall seconds to wait at start-up for the node and the queue"
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="text ([CLOCK] lines) or one JSON object per line"
    )

    @property
    def simulated(self) -> bool:
        return self.speed > 1.0


def parse(argv: list[str] | None = None) -> Settings:
    """Settings from `argv` (flags) over the environment over the defaults."""
    return Settings.parse(argv)
