"""The gateway's settings: every flag is also the environment variable
``METER_GATEWAY_<FLAG>`` (``--port`` / ``METER_GATEWAY_PORT``); the flag wins, then the
variable, then the default. The meter's key is never a flag: ``--key-file FILE`` or the
variable ``METER_KEY`` (no dev-key fall-back: the meter role is granted to a chosen account).
See docs/configuration.md."""

from __future__ import annotations

from pydantic import Field

from gridgame import ServiceSettings, max_body_field, port_field, service_config
from ledger_contracts import DEFAULT_RPC

from .store import DEFAULT_DB

KEY_ENV = "METER_KEY"


class Settings(ServiceSettings):
    """Every flag is also the environment variable METER_GATEWAY_<FLAG> (METER_GATEWAY_PORT
    for --port); the flag wins. See docs/configuration.md."""

    model_config = service_config("METER_GATEWAY_", prog="python -m meter_gateway")

    port: int = port_field(8084)
    max_body_bytes: int = max_body_field(256 * 1024)
    rpc: str = Field(DEFAULT_RPC, description="JSON-RPC URL of the Ethereum node")
    deployment: str = Field("deployment.json", description="deployment file (contract addresses)")
    queue: str = Field("http://127.0.0.1:8082", description="URL of the transaction queue")
    db: str = Field(
        DEFAULT_DB, description="SQLite file of the meters' tokens (hashed) and the readings sent"
    )
    key_file: str | None = Field(
        None, description="file holding the meter account's private key (else env METER_KEY)"
    )
    wait: float = Field(
        30.0,
        ge=0,
        le=300,
        description="seconds to wait for a reading to be "
        "mined before answering 202 with the queue's request id",
    )
    max_gas: int = Field(
        5_000_000,
        ge=100_000,
        description="most gas a reading's request asks for (at most the queue's --max-request-gas)",
    )
    rpc_timeout: float = Field(10.0, gt=0, le=300, description="seconds per JSON-RPC request")
    startup_wait: float = Field(
        30.0, ge=0, description="seconds to wait at start-up for the node and the queue"
    )
