"""The service's settings: flags override environment variables (``OPTIMIZER_<NAME>``),
which override the defaults below."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPTIMIZER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=0, le=65535)
    max_sellers: int = Field(default=5000, ge=1, description="most sellers in one request")
    max_slsqp_sellers: int = Field(default=200, ge=1, description="most sellers for 'slsqp'")
    max_buyers: int = Field(default=10000, ge=1, description="most buyers in one /equilibrium")
    max_cells: int = Field(
        default=2_000_000, ge=1, description="most buyers x sellers in one /equilibrium"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
