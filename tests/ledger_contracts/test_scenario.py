"""Scenario files: `turn_seconds` (seconds per turn), and its former name `turn_deadline`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger_contracts.testing import DEMO, load_scenario


def _write(tmp_path: Path, **fields: object) -> Path:
    path = tmp_path / "scenario.json"
    path.write_text(json.dumps({**DEMO.to_dict(), **fields}))
    return path


def test_turn_seconds_is_read(tmp_path: Path) -> None:
    assert load_scenario(_write(tmp_path, turn_seconds=42)).turn_seconds == 42


def test_former_name_turn_deadline_is_still_read(tmp_path: Path) -> None:
    data = {k: v for k, v in DEMO.to_dict().items() if k != "turn_seconds"}
    path = tmp_path / "old.json"
    path.write_text(json.dumps({**data, "turn_deadline": 17}))
    assert load_scenario(path).turn_seconds == 17


def test_unknown_fields_are_still_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown field"):
        load_scenario(_write(tmp_path, turn_limit=3))
