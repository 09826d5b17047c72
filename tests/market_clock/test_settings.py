"""Flags and environment variables with the same names; flags win; limits."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from market_clock.settings import parse


def test_defaults() -> None:
    s = parse([])
    assert (s.period, s.registration, s.delivery, s.round_limit, s.turn_seconds) == (
        900,
        120,
        900,
        20,
        30,
    )
    assert s.speed == 1.0 and not s.simulated and s.port == 8083 and s.games == 0
    assert s.jump and s.key_file is None


def test_environment_then_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERIOD", "60")
    monkeypatch.setenv("SPEED", "50")
    monkeypatch.setenv("EPSILON_WH", "7")
    monkeypatch.setenv("QUEUE", "http://queue:8082")
    monkeypatch.setenv("MARKET_CLOCK_TURN_SECONDS", "9")
    s = parse(["--period", "30", "--turn-seconds", "5", "--no-jump"])
    assert s.period == 30 and s.speed == 50 and s.simulated and s.epsilon_wh == 7
    assert s.queue == "http://queue:8082" and s.turn_seconds == 5 and not s.jump
    assert parse([]).turn_seconds == 9  # the prefixed variable, below the flag


def test_limits() -> None:
    with pytest.raises(ValidationError):
        parse(["--speed", "0.5"])
    with pytest.raises(ValidationError):
        parse(["--round-limit", "0"])
