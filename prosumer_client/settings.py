"""Typed settings shared by every command: flags override environment variables
(`PROSUMER_<NAME>`, e.g. `PROSUMER_RPC`, `PROSUMER_QUEUE`, `PROSUMER_KEY_FILE`), which override
the defaults. The private key itself is never a flag: `--key-file FILE` (the hex key or a
keystore) or `PROSUMER_KEY`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger_contracts import DEFAULT_RPC

from .solver import DEFAULT_URL as DEFAULT_OPTIMIZER

DEFAULT_QUEUE = "http://127.0.0.1:8082"
KEY_ENV = "PROSUMER_KEY"
LogLevel = Literal["error", "warn", "info", "verbose", "debug", "silly"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROSUMER_", case_sensitive=False, extra="ignore")

    rpc: str = Field(DEFAULT_RPC, description="JSON-RPC URL of the Ethereum node")
    deployment: str = Field("deployment.json", description="deployment file")
    queue: str = Field(DEFAULT_QUEUE, description="URL of the transaction queue")
    optimizer: str = Field(DEFAULT_OPTIMIZER, description="URL of the optimizer service")
    key_file: str | None = Field(
        None,
        description="file holding the prosumer's private key: "
        "hex, or a keystore (password: GRIDGAME_KEYSTORE_PASSWORD)",
    )
    name: str = Field("PROSUMER", min_length=1, max_length=32, description="log tag")
    log_level: LogLevel = "info"
    poll_interval: float = Field(0.01, gt=0, le=10, description="seconds between polls")
    follow: Literal["logs", "filter"] = Field(
        "logs",
        description="how `play` follows events: eth_blockNumber + eth_getLogs by block "
        "range (no state on the node), or an eth_newFilter polled with eth_getFilterChanges",
    )
    rpc_timeout: float = Field(10.0, gt=0, le=300, description="seconds per RPC request")
    http_timeout: float = Field(
        10.0, gt=0, le=300, description="seconds per queue or optimizer request"
    )
