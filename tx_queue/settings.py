"""Typed settings: every flag is also the environment variable ``TX_QUEUE_<FLAG>``
(`--max-depth 500` or `TX_QUEUE_MAX_DEPTH=500`); flags win. The bare names this service read
before (`MAX_DEPTH`, `RPC`, ...) still work, below the prefixed ones (docs/configuration.md).
The relay's private key is never a flag: `--key-file FILE` or the environment variable
RELAY_KEY, else on a local Anvil chain (chain id 31337) Anvil's dev key number 9 (the operator
deploys with number 0)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from gridgame import ServiceSettings, port_field, service_config
from ledger_contracts import DEFAULT_RPC

RELAY_DEV_KEY_INDEX = 9
KEY_ENV = "RELAY_KEY"


class Settings(ServiceSettings):
    """Every flag is also the environment variable TX_QUEUE_<FLAG> (TX_QUEUE_PORT for --port);
    the bare name (PORT) still works, below it; the flag wins. See docs/configuration.md."""

    model_config = service_config("TX_QUEUE_", prog="python -m tx_queue")
    legacy_env: ClassVar[bool] = True

    port: int = port_field(8082)
    rpc: str = Field(DEFAULT_RPC, description="JSON-RPC URL of the Ethereum node")
    deployment: str = Field("deployment.json", description="deployment file (contract addresses)")
    db: str = Field("tx_queue.db", description="SQLite database file of the queue")
    key_file: str | None = Field(
        None,
        description="file holding the relay's private key (else env RELAY_KEY; Anvil: dev key 9)",
    )
    max_depth: int = Field(
        10_000,
        ge=1,
        description="most requests queued or in flight; beyond, POST /requests answers 429",
    )
    window: int = Field(4, ge=1, le=64, description="relay transactions in flight at once")
    max_batch: int = Field(100, ge=1, le=1000, description="most requests per relay transaction")
    max_batch_gas: int = Field(
        15_000_000, ge=100_000, description="gas limit cap of one relay transaction"
    )
    max_request_gas: int = Field(
        5_000_000, ge=21_000, description="largest `gas` a request may ask for"
    )
    max_attempts: int = Field(3, ge=1, description="relay attempts before a request fails")
    min_deadline_margin: float = Field(
        2.0, ge=0, description="seconds a deadline must leave to relay the request"
    )
    rpc_timeout: float = Field(10.0, gt=0, description="seconds per JSON-RPC request")
    node_wait: float = Field(
        30.0,
        ge=0,
        description="seconds to wait for the node at start-up when the relay key needs it",
    )
    fee_mode: Literal["auto", "fixed"] = Field(
        "auto",
        description="auto: EIP-1559 fees from eth_feeHistory (legacy eth_gasPrice on a "
        "node without EIP-1559), at most --max-fee-gwei; fixed: "
        "--gas-price-gwei for every transaction",
    )
    gas_price_gwei: float = Field(
        0.0,
        ge=0,
        allow_inf_nan=False,
        description="gas price in fixed mode (0 on a network without fees)",
    )
    max_fee_gwei: float = Field(
        100.0,
        gt=0,
        allow_inf_nan=False,
        description="ceiling of the max fee per gas in auto mode; above it nothing is sent",
    )
    priority_fee_gwei: float = Field(
        1.0, ge=0, allow_inf_nan=False, description="tip when recent blocks show none (auto mode)"
    )
    http_threads: int = Field(8, ge=1, le=256, description="worker threads for HTTP requests")
    signer_ttl: float = Field(
        2.0,
        ge=0,
        le=3600,
        allow_inf_nan=False,
        description="seconds the Market's answer on a signer (admitted "
        "prosumer, role holder, unknown) is kept",
    )
    max_waiting: int = Field(
        16, ge=1, description="most requests of one prosumer queued or in flight; beyond, 429"
    )
    gas_per_window: int = Field(
        25_000_000,
        ge=21_000,
        description="most gas one prosumer's requests may ask for per --gas-window; beyond, 429",
    )
    gas_window: float = Field(
        60.0, gt=0, le=86_400, allow_inf_nan=False, description="seconds of the gas window"
    )
    revert_limit: int = Field(
        5,
        ge=0,
        description="a prosumer with this many requests reverted "
        "on chain within --revert-window is refused "
        "(429) until they age out; 0: never",
    )
    revert_window: float = Field(
        60.0, gt=0, le=86_400, allow_inf_nan=False, description="seconds of the revert window"
    )
    role_reserve: float = Field(
        0.1,
        ge=0,
        lt=1,
        allow_inf_nan=False,
        description="share of --max-depth kept for the role holders "
        "(clock, meter, admin): prosumers together fill at "
        "most the rest",
    )

    @model_validator(mode="after")
    def _price_needs_fixed_mode(self) -> Settings:
        if self.fee_mode == "auto" and "gas_price_gwei" in self.model_fields_set:
            raise ValueError(
                "gas_price_gwei is the price of --fee-mode fixed; with auto fees "
                "use --max-fee-gwei for a ceiling"
            )
        return self

    @property
    def prosumer_depth(self) -> int:
        """Places of the queue the prosumers may fill together."""
        return int(self.max_depth * (1 - self.role_reserve))


def parse(argv: list[str] | None = None) -> Settings:
    """Settings from `argv` (flags) over the environment over the defaults."""
    return Settings.parse(argv)
