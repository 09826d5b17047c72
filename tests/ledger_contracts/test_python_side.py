"""The ledger's Python side on its own: Anvil lifecycle, keys, units, revert decoding, files."""

from __future__ import annotations

import json

import pytest
from eth_abi import encode
from web3 import Web3

from ledger_contracts import (
    Anvil,
    Deployment,
    DeploymentError,
    LedgerError,
    NodeUnavailable,
    connect,
    decode_revert,
    dev_keys,
    load_key,
    read_key_file,
    units,
)


def test_anvil_starts_on_a_free_port_and_stops() -> None:
    node = Anvil().start()
    try:
        assert node.running
        assert connect(node.url).eth.chain_id == 31337
    finally:
        node.stop()
    assert not node.running
    with pytest.raises(NodeUnavailable, match="no Ethereum node answers"):
        connect(node.url, timeout=0.5)


def test_dev_keys_are_anvils_funded_accounts(w3: Web3, anvil: Anvil) -> None:
    keys = dev_keys(3)
    assert keys == anvil.keys[:3]
    for key in keys:
        address = w3.eth.account.from_key(key).address
        assert w3.eth.get_balance(address) > 0


def test_units_round_trip() -> None:
    assert units.kwh_to_wh(10.4618) == 10462
    assert units.wh_to_kwh(10462) == pytest.approx(10.462)
    assert units.price_to_micro(0.0838) == 83_800
    assert units.micro_to_price(83_800) == pytest.approx(0.0838)


def test_decode_revert_of_error_string_and_panic() -> None:
    err = decode_revert("0x08c379a0" + encode(["string"], ["nope"]).hex())
    assert (err.name, err.args_by_name) == ("Error", {"message": "nope"})
    panic = decode_revert("0x4e487b71" + encode(["uint256"], [0x11]).hex())
    assert str(panic) == "Panic(code=0x11)"
    unknown = decode_revert("0xdeadbeef")
    assert unknown.name == "UnknownError"


def test_key_sources(tmp_path, monkeypatch: pytest.MonkeyPatch, w3: Web3) -> None:
    key = dev_keys(2)[1]
    path = tmp_path / "key"
    path.write_text(key[2:] + "\n")
    assert read_key_file(path) == key
    bad = tmp_path / "bad"
    bad.write_text("0x1234")
    with pytest.raises(LedgerError, match="does not hold a 32-byte hex private key"):
        read_key_file(bad)
    monkeypatch.setenv("SOME_KEY", key)
    assert load_key(None, env="SOME_KEY") == key
    monkeypatch.delenv("SOME_KEY")
    assert load_key(None, env="SOME_KEY", w3=w3) == dev_keys(1)[0]  # local Anvil only
    with pytest.raises(LedgerError, match="set SOME_KEY"):
        load_key(None, env="SOME_KEY")


def test_deployment_file_round_trip_and_errors(tmp_path) -> None:
    d = Deployment(chain_id=5, block=3, operator="0x" + "11" * 20, contracts={"Market": "0xab"})
    d.save(tmp_path / "d.json")
    assert Deployment.load(tmp_path / "d.json") == d
    with pytest.raises(DeploymentError, match="not found; deploy first"):
        Deployment.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text(json.dumps({"chain_id": 1}))
    with pytest.raises(DeploymentError, match="malformed"):
        Deployment.load(tmp_path / "bad.json")
    with pytest.raises(DeploymentError, match="has no contract 'Token'"):
        d.address("Token")
