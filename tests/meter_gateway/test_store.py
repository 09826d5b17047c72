"""The gateway's database on its own: tokens stored hashed, one claim per reading, a claim
left by a process that died is taken over."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from meter_gateway import Store, TokenError


def test_a_token_is_kept_only_as_its_hash(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.db")
    token = store.add_token("meter-S001")
    raw = (tmp_path / "g.db").read_bytes()
    assert token.encode() not in raw
    assert hashlib.sha256(token.encode()).hexdigest().encode() in raw
    assert store.meter_of(token) == "meter-S001"
    assert store.meter_of(token + "x") is None
    assert store.revoke("meter-S001") == 1
    assert store.meter_of(token) is None
    with pytest.raises(TokenError, match="no live token"):
        store.revoke("meter-S001")


@pytest.mark.parametrize("meter", ["", "a b", "x" * 129, "métér"])
def test_a_bad_meter_id_is_refused(tmp_path: Path, meter: str) -> None:
    with pytest.raises(TokenError, match="printable ASCII"):
        Store(tmp_path / "g.db").add_token(meter)


def test_one_claim_per_reading(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.db")
    assert store.claim(3, "0xA", "m") is None
    assert store.claim(3, "0xA", "m") == 0  # claimed, not queued yet
    store.queued(3, "0xA", 41)
    assert store.claim(3, "0xA", "m", stale_after=0) == 41  # queued: never stale
    assert store.claim(4, "0xA", "m") is None  # another game
    store.release(3, "0xA")
    assert store.claim(3, "0xA", "m") is None


def test_a_claim_never_queued_goes_stale(tmp_path: Path) -> None:
    store = Store(tmp_path / "g.db")
    assert store.claim(3, "0xA", "m") is None
    assert store.claim(3, "0xA", "m", stale_after=-5) is None
    assert store.claim(3, "0xA", "m") == 0
