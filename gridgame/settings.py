"""The settings convention of every gridgame service (docs/configuration.md):

- every flag ``--some-flag`` of ``python -m <service>`` is also the environment variable
  ``<SERVICE>_SOME_FLAG`` (``OPTIMIZER_PORT``, ``TX_QUEUE_MAX_DEPTH``, ``MARKET_CLOCK_PERIOD``);
  the flag wins over the variable, the variable over the default;
- a service that used to read the bare name (``PORT``, ``MAX_DEPTH``) still does, below its
  prefixed name (``legacy_env = True``), until the old names are retired;
- private keys are never flags: ``--key-file FILE`` or the variable ``<ROLE>_KEY``.

    class Settings(ServiceSettings):
        model_config = service_config("TX_QUEUE_", prog="python -m tx_queue")
        port: int = port_field(8082)

    settings = Settings.parse(argv)           # raises pydantic.ValidationError
"""

from __future__ import annotations

import sys
from typing import Any, ClassVar, Self

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    CliApp,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from gridgame.http import MiB
from gridgame.logs import LogLevel


def service_config(prefix: str, prog: str) -> SettingsConfigDict:
    return SettingsConfigDict(
        env_prefix=prefix,
        cli_prog_name=prog,
        cli_kebab_case=True,
        cli_implicit_flags=True,
        case_sensitive=False,
        extra="ignore",
    )


def port_field(default: int) -> Any:
    return Field(default, ge=0, le=65535, description="port to listen on (0: any free port)")


def max_body_field(default: int = MiB) -> Any:
    return Field(
        default,
        ge=1024,
        le=1024 * MiB,
        description="largest request body accepted, in bytes; larger ones are answered 413",
    )


class ServiceSettings(BaseSettings):
    """Host, port, log level and body limit; subclasses set `model_config` (the prefix) and
    may override the defaults."""

    legacy_env: ClassVar[bool] = False

    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: int = port_field(8080)
    log_level: LogLevel = Field(default="info", description="debug, info, warning or error")
    max_body_bytes: int = max_body_field()

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:  # LOG_LEVEL=INFO, as the queue took it before
        return value.lower() if isinstance(value, str) else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        if not cls.legacy_env:
            return init_settings, env_settings
        legacy = EnvSettingsSource(settings_cls, env_prefix="", case_sensitive=False)
        return init_settings, env_settings, legacy

    @classmethod
    def parse(cls, argv: list[str] | None = None) -> Self:
        """Settings from `argv` (flags) over the environment over the defaults."""
        return CliApp.run(cls, cli_args=sys.argv[1:] if argv is None else argv)

    @classmethod
    def parse_or_explain(cls, argv: list[str] | None = None) -> Self | None:
        """`parse`, or None after printing the problem on one line on stderr
        (``error: --port (TX_QUEUE_PORT): ...``): what every ``__main__`` does before exit 2."""
        try:
            return cls.parse(argv)
        except ValidationError as exc:
            print(f"error: {settings_error(cls, exc)}", file=sys.stderr)
            return None

    @classmethod
    def env_name(cls, field: str) -> str:
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


def settings_error(cls: type[ServiceSettings], exc: ValidationError) -> str:
    """``--port (TX_QUEUE_PORT): Input should be ...``, one problem per line, no traceback."""
    lines = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err.get("loc") else ""
        where = f"--{name.replace('_', '-')} ({cls.env_name(name)})" if name else "settings"
        lines.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(lines)
