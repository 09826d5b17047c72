"""The chain plumbing every package shares, on its own: the door, the JSON-RPC client against a
real Anvil, the revert decoder, the gas and deadline rules, the EIP-712 type, bid rounding."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import types

import pytest
from eth_abi import encode
from eth_utils import to_checksum_address

import ledger_contracts
from ledger_contracts import (
    FORWARD_REQUEST_TYPE,
    Anvil,
    Deployment,
    LedgerError,
    LedgerRevert,
    NodeUnavailable,
    Rpc,
    RpcError,
    deadline_after,
    decode_revert,
    free_port,
    pad_gas,
    selector,
    to_wh_bid,
)


def _modules_after(statement: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"{statement}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_every_name_of_the_door_resolves_to_what_its_room_defines() -> None:
    for name in ledger_contracts.__all__:
        value = getattr(ledger_contracts, name)
        assert not isinstance(value, types.ModuleType), f"{name} is shadowed by a module"
    assert ledger_contracts.deploy.__name__ == "deploy"  # not the module it lives in
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        ledger_contracts.nothing  # noqa: B018


def test_the_door_loads_web3_only_for_what_needs_it() -> None:
    assert "web3" not in _modules_after("import ledger_contracts")
    lean = _modules_after("from ledger_contracts import Rpc, decode_revert, pad_gas, to_wh_bid")
    assert "web3" not in lean and "ledger_contracts.rpc" in lean
    assert "web3" in _modules_after("from ledger_contracts import connect")


def test_the_queue_client_imports_neither_the_app_nor_the_database() -> None:
    loaded = _modules_after("import tx_queue.client")
    assert "tx_queue.client" in loaded
    assert (
        not {
            "fastapi",
            "sqlite3",
            "tx_queue.main",
            "tx_queue.store",
            "tx_queue.db",
            "tx_queue.api",
            "prosumer_client",
        }
        & loaded
    )


def test_rpc_calls_batches_and_decoded_reverts(anvil: Anvil, deployment: Deployment) -> None:
    rpc = Rpc(anvil.url, timeout=5.0)
    try:
        assert int(rpc.call("eth_chainId", []), 16) == 31337
        chain_id, bad = rpc.batch([("eth_chainId", []), ("eth_getBalance", ["0x12"])])
        assert chain_id == "0x7a69"
        assert isinstance(bad, RpcError) and bad.method == "eth_getBalance"
        assert str(bad).startswith("eth_getBalance: RPC error ")
        with pytest.raises(RpcError, match="^no_such_method: RPC error"):
            rpc.call("no_such_method", [])
        market = deployment.address("Market")
        count = "0x" + selector({"name": "gameCount", "inputs": []}).hex()
        assert rpc.eth_call(market, count) == encode(["uint256"], [0])
        demand = selector(
            {"name": "publishDemand", "inputs": [{"type": "uint256"}, {"type": "uint256"}]}
        )
        refused = "0x" + (demand + encode(["uint256", "uint256"], [1, 1000])).hex()
        with pytest.raises(LedgerRevert) as caught:
            rpc.eth_call(market, refused)
        assert caught.value.name.startswith("Market"), str(caught.value)
        with pytest.raises(LedgerRevert):
            rpc.eth_calls([(market, count), (market, refused)])
        assert rpc.eth_calls([(market, count)] * 3) == [encode(["uint256"], [0])] * 3
    finally:
        rpc.close()


def test_rpc_keeps_one_connection_per_thread(anvil: Anvil) -> None:
    rpc = Rpc(anvil.url, timeout=5.0)
    answers: list[int] = []

    def work() -> None:
        for _ in range(20):
            answers.append(rpc.block_number())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(answers) == 80 and len(rpc._all) == 4
    rpc.close()
    assert rpc._all == []
    assert rpc.block_number() >= 0  # a closed client reconnects, and tracks the connection
    assert len(rpc._all) == 1
    rpc.close()


def test_rpc_errors_name_the_problem() -> None:
    with pytest.raises(LedgerError, match="must be http:// or https://"):
        Rpc("ws://127.0.0.1:8545")
    rpc = Rpc(f"http://127.0.0.1:{free_port()}", timeout=1.0)
    with pytest.raises(NodeUnavailable, match="unreachable"):
        rpc.call("eth_chainId", [])


def test_decode_revert_of_a_project_error_and_of_malformed_data() -> None:
    entry = {"name": "MarketNotAdmitted", "inputs": [{"name": "account", "type": "address"}]}
    data = selector(entry) + encode(["address"], ["0x" + "ab" * 20])
    err = decode_revert(data)
    assert err.name == "MarketNotAdmitted"
    assert str(err) == f"MarketNotAdmitted(account={to_checksum_address('0x' + 'ab' * 20)})"
    assert decode_revert("0x" + data.hex()).args_by_name == err.args_by_name
    assert decode_revert(data[:10]).name == "UnknownError"  # truncated: not decodable
    assert decode_revert(None).name == "UnknownError"


def test_gas_padding_and_deadline_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    assert pad_gas(100_000) == 145_000
    assert pad_gas(0) == 20_000
    monkeypatch.setattr(time, "time", lambda: 1_000.5)
    assert deadline_after(600) == 1_600
    assert deadline_after(600, None) == 1_600
    assert deadline_after(600, 5_000) == 5_600  # a chain ahead of the wall clock
    assert deadline_after(600, 10) == 1_600  # a chain behind it


def test_the_forward_request_type_is_openzeppelins() -> None:
    assert FORWARD_REQUEST_TYPE == (
        "ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,"
        "uint48 deadline,bytes data)"
    )


def test_bids_round_down_within_demand_and_free_capacity() -> None:
    assert to_wh_bid([1.0004, 2.9999], 5_000, [10_000, 10_000], [0, 0]) == [1_000, 2_999]
    assert to_wh_bid([5.0, 5.0], 8_000, [4_000, 10_000], [1.5, 0]) == [2_500, 5_000]
    assert sum(to_wh_bid([3.0000004, 3.0000004], 6_000, [1e9, 1e9], [0, 0])) == 6_000
    assert to_wh_bid([-0.5], 1_000, [1_000], [0]) == [0]
