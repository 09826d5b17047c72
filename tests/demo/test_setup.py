"""`demo setup` on a real Anvil: the files compose relies on, roles, admissions and funding."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from demo.__main__ import main
from ledger_contracts import Deployment, read_key_file
from ledger_contracts.testing import DEMO


def test_setup_writes_what_the_cluster_reads(
    anvil, w3: Web3, tmp_path: Path, operator: LocalAccount
) -> None:
    out = tmp_path / "market"
    assert main(["setup", "--rpc", anvil.url, "--out", str(out)]) == 0
    deployment = Deployment.load(out / "deployment.json")
    market = deployment.contract(w3, "Market")
    cluster = json.loads((out / "cluster.json").read_text())
    names = [p["name"] for p in cluster["participants"]]
    assert names == [f"S{k:03d}" for k in range(1, 5)] + [f"P{k:03d}" for k in range(1, 8)]
    for p in cluster["participants"]:
        key = out / "keys" / f"{p['name']}.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert w3.eth.account.from_key(read_key_file(key)).address == p["address"]
        record = market.functions.prosumer(p["address"]).call()
        assert record[2] is True  # admitted
    assert [p["kwh"] for p in cluster["participants"] if p["role"] == "buyer"] == list(DEMO.buyers)
    clock = w3.eth.account.from_key(read_key_file(out / "keys" / "clock.key")).address
    meter = w3.eth.account.from_key(read_key_file(out / "keys" / "meter.key")).address
    assert market.functions.hasRole(market.functions.CLOCK_ROLE().call(), clock).call()
    assert market.functions.hasRole(market.functions.METER_ROLE().call(), meter).call()
    assert not market.functions.hasRole(market.functions.CLOCK_ROLE().call(), meter).call()
    if "GridToken" in deployment.contracts:
        token = deployment.contract(w3, "GridToken")
        for p in cluster["participants"]:
            balance = token.functions.balanceOf(p["address"]).call()
            assert (balance > 0) == (p["role"] == "buyer")


def test_setup_refuses_a_half_random_market(anvil, tmp_path: Path, capsys) -> None:
    assert main(["setup", "--rpc", anvil.url, "--out", str(tmp_path), "--buyers", "3"]) == 1
    assert "needs both --buyers N and --sellers M" in capsys.readouterr().err
    assert not (tmp_path / "deployment.json").exists()
