"""gridgame: what every service shares, and nothing more (no web3, no solver): logs, the
settings convention, the HTTP app's plumbing (body limit, error answers) and waiting for a
service to be healthy. Services, the demo and the tests import it from here."""

from gridgame.errors import GridgameError, NotHealthy
from gridgame.health import HEALTH_PATH, Health, wait_healthy
from gridgame.http import BodySizeLimit, MiB, service_app, unprocessable
from gridgame.logs import (
    JsonFormatter,
    LogFormat,
    LogLevel,
    RateLimited,
    TextFormatter,
    configure,
    fields,
    log_config,
    stamp,
)
from gridgame.serve import server
from gridgame.settings import (
    ServiceSettings,
    max_body_field,
    port_field,
    service_config,
    settings_error,
)

__all__ = [
    "HEALTH_PATH",
    "BodySizeLimit",
    "GridgameError",
    "Health",
    "JsonFormatter",
    "LogFormat",
    "LogLevel",
    "MiB",
    "NotHealthy",
    "RateLimited",
    "ServiceSettings",
    "TextFormatter",
    "configure",
    "fields",
    "log_config",
    "max_body_field",
    "port_field",
    "server",
    "service_app",
    "service_config",
    "settings_error",
    "stamp",
    "unprocessable",
    "wait_healthy",
]
