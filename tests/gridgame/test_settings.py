"""The settings convention: `<SERVICE>_<FLAG>` variables, the bare names the queue and the clock
read before as a fallback below them, flags over both, and a bad value named without a
traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from gridgame import settings_error
from market_clock.settings import Settings as ClockSettings
from optimizer.settings import Settings as OptimizerSettings
from tx_queue.settings import Settings as QueueSettings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("cls", "prefix"),
    [
        (OptimizerSettings, "OPTIMIZER_"),
        (QueueSettings, "TX_QUEUE_"),
        (ClockSettings, "MARKET_CLOCK_"),
    ],
)
def test_every_service_reads_its_prefix(
    monkeypatch: pytest.MonkeyPatch, cls: type, prefix: str
) -> None:
    monkeypatch.setenv(f"{prefix}PORT", "9001")
    monkeypatch.setenv(f"{prefix}LOG_LEVEL", "warning")
    monkeypatch.setenv(f"{prefix}MAX_BODY_BYTES", "4096")
    s = cls.parse([])
    assert (s.port, s.log_level, s.max_body_bytes) == (9001, "warning", 4096)
    assert cls.parse(["--port", "9002"]).port == 9002  # the flag wins


@pytest.mark.parametrize("cls", [QueueSettings, ClockSettings])
def test_old_bare_names_still_work_below_the_prefixed_ones(
    monkeypatch: pytest.MonkeyPatch, cls: type
) -> None:
    monkeypatch.setenv("RPC", "http://old:8545")
    monkeypatch.setenv("DEPLOYMENT", "old.json")
    assert (cls.parse([]).rpc, cls.parse([]).deployment) == ("http://old:8545", "old.json")
    prefix = cls.model_config["env_prefix"]
    monkeypatch.setenv(f"{prefix}RPC", "http://new:8545")
    assert cls.parse([]).rpc == "http://new:8545"
    assert cls.parse(["--rpc", "http://flag:8545"]).rpc == "http://flag:8545"


def test_the_log_level_takes_any_case(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "ERROR")  # as the queue accepted it before
    assert QueueSettings.parse([]).log_level == "error"
    assert OptimizerSettings.parse(["--log-level", "WARNING"]).log_level == "warning"
    with pytest.raises(ValidationError):
        OptimizerSettings.parse(["--log-level", "loud"])


def test_the_optimizer_never_read_bare_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9003")
    monkeypatch.setenv("MAX_SELLERS", "3")
    s = OptimizerSettings.parse([])
    assert (s.port, s.max_sellers) == (8081, 5000)
    monkeypatch.setenv("OPTIMIZER_MAX_SELLERS", "3")
    assert OptimizerSettings.parse([]).max_sellers == 3


def test_a_bad_value_names_the_flag_and_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TX_QUEUE_MAX_DEPTH", "0")
    with pytest.raises(ValidationError) as caught:
        QueueSettings.parse([])
    assert settings_error(QueueSettings, caught.value).startswith(
        "--max-depth (TX_QUEUE_MAX_DEPTH): Input should be greater than or equal to 1"
    )


@pytest.mark.parametrize(
    ("module", "variable"),
    [
        ("optimizer", "OPTIMIZER_PORT"),
        ("tx_queue", "TX_QUEUE_PORT"),
        ("market_clock", "MARKET_CLOCK_PORT"),
    ],
)
def test_a_service_given_a_bad_value_exits_2_with_one_line(module: str, variable: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", module, "--port", "many"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: --port ({variable}): Input should be a valid integer, unable to parse string "
        "as an integer"
    ]
