"""The service's settings: every flag is also the environment variable ``OPTIMIZER_<FLAG>``
(``--max-sellers`` / ``OPTIMIZER_MAX_SELLERS``); the flag wins, then the variable, then the
default below. See docs/configuration.md."""

from __future__ import annotations

from pydantic import Field

from gridgame import ServiceSettings, port_field, service_config


class Settings(ServiceSettings):
    """Every flag is also the environment variable OPTIMIZER_<FLAG> (OPTIMIZER_PORT for
    --port); the flag wins. See docs/configuration.md."""

    model_config = service_config("OPTIMIZER_", prog="python -m optimizer")

    port: int = port_field(8081)
    access_log: bool = Field(default=True, description="log every request (JSON, like the rest)")
    max_sellers: int = Field(default=5000, ge=1, description="most sellers in one request")
    max_slsqp_sellers: int = Field(default=200, ge=1, description="most sellers for 'slsqp'")
    max_buyers: int = Field(default=10000, ge=1, description="most buyers in one /equilibrium")
    max_cells: int = Field(
        default=2_000_000, ge=1, description="most buyers x sellers in one /equilibrium"
    )
