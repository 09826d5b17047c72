"""The relay's fees on nodes of the tests' own: EIP-1559 fees from the fee history stay
bounded under a steady stream in real time, a refused send (the relay short of funds) leaves
the queue working and `/health` degraded with the reason, a fixed price of zero relays on a
network without fees, fees above the ceiling wait, a transaction priced out of the pool is
replaced with higher fees, one without a receipt for long degrades the relay, and a node
without EIP-1559 gets legacy transactions.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from ledger_contracts import Anvil, Rpc, account, connect, deploy
from tx_queue.batches import SubmitterConfig
from tx_queue.client import RelayClient
from tx_queue.fees import FeeOracle, FeePolicy, fees_of
from tx_queue.forward import ForwardRequest
from tx_queue.intake import Intake
from tx_queue.ledger import Ledger
from tx_queue.settings import RELAY_DEV_KEY_INDEX
from tx_queue.store import Store
from tx_queue.submitter import Submitter

from .conftest import Env, make_env

GWEI = 10**9


def own_env(node: Anvil, tmp_path: Path, *extra: str) -> Env:
    w3 = connect(node.url)
    keys = node.keys
    return make_env(w3, account(keys[0]), account(keys[RELAY_DEV_KEY_INDEX]), tmp_path, *extra)


def relay_txs(env: Env, since: int) -> list[dict]:
    """The relay's transactions mined after block `since`, with their receipts."""
    out = []
    for number in range(since + 1, env.w3.eth.block_number + 1):
        for tx in env.w3.eth.get_block(number, full_transactions=True)["transactions"]:
            if tx["from"] == env.relay:
                out.append(dict(env.w3.eth.get_transaction_receipt(tx["hash"])))
    return out


def test_fees_stay_bounded_under_a_steady_stream_in_real_time(tmp_path: Path) -> None:
    """Automine, real time, the queue's own `evm_mine` nudge as it is: 40 requests at about
    5 a second. The relay pays the base fee and the tip the fee history shows, which its own
    transactions do not drive up."""
    with Anvil(accounts=12) as node:
        env = own_env(node, tmp_path)
        try:
            start_block = env.w3.eth.block_number
            balance = env.w3.eth.get_balance(env.relay)
            with RelayClient(env.url, env.w3, env.deployment, env.operator) as client:
                market = env.market()
                ids = []
                for _ in range(40):
                    ids.append(
                        client.send(
                            market.functions.admit(Account.create().address, os.urandom(32), 0),
                            gas=300_000,
                        )
                    )
                    time.sleep(0.2)
                assert all(client.wait(i).status == "mined" for i in ids)
            receipts = relay_txs(env, start_block)
            prices = [r["effectiveGasPrice"] for r in receipts]
            assert len(prices) >= 5, prices
            # Anvil's first block: base fee 1 gwei, suggested tip 1 gwei; the base fee only
            # falls under small blocks. Before: 2x eth_gasPrice, over 40 gwei by the end.
            assert max(prices) <= 2 * GWEI + 1, [p / GWEI for p in prices]
            assert prices[-1] <= prices[0], [p / GWEI for p in prices]
            spent = balance - env.w3.eth.get_balance(env.relay)
            assert spent == sum(r["gasUsed"] * r["effectiveGasPrice"] for r in receipts)
            assert spent < 10**17  # 0.1 ETH for 40 small requests
            assert httpx.get(f"{env.url}/health").json()["status"] == "ok"
        finally:
            env.queue.stop()


def health(env: Env) -> dict:
    body: dict = httpx.get(f"{env.url}/health", timeout=10).json()
    return body


def wait_for(what: str, check, timeout: float = 20.0):  # noqa: ANN001, ANN201
    end = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.1)


def log_lines(env: Env) -> list[dict]:
    return [
        json.loads(line) for line in env.queue.log.read_text().splitlines() if line.startswith("{")
    ]


def test_a_relay_short_of_funds_is_degraded_and_relays_once_funded(tmp_path: Path) -> None:
    """The node refuses the relay's transactions for funds: the requests wait (no attempt
    used, nothing jams), `/health` says why, the log says it once; funded again, they are
    mined. Before: the refused bytes were signed again under the same hash, the store
    refused them every second, nothing was ever sent again and `/health` said ok."""
    with Anvil(accounts=12) as node:
        env = own_env(node, tmp_path)
        try:
            env.w3.provider.make_request(
                "anvil_setBalance",  # type: ignore[arg-type]
                [env.relay, hex(10**12)],
            )
            with RelayClient(env.url, env.w3, env.deployment, env.operator) as client:
                market = env.market()
                ids = [
                    client.send(
                        market.functions.admit(Account.create().address, os.urandom(32), 0),
                        gas=300_000,
                    )
                    for _ in range(3)
                ]
                degraded = wait_for(
                    "degraded health", lambda: (h := health(env))["status"] == "degraded" and h
                )
                assert "short of funds" in degraded["reason"], degraded
                assert "short of funds" in degraded["relay"]["problem"]
                time.sleep(4.0)  # several retries, with pauses
                views = [httpx.get(f"{env.url}/requests/{i}").json() for i in ids]
                assert {v["status"] for v in views} == {"queued"}, views
                assert {v["attempts"] for v in views} == {0}
                assert "insufficient funds" in views[0]["reason"].lower()
                assert health(env)["status"] == "degraded"
                env.w3.provider.make_request(
                    "anvil_setBalance",  # type: ignore[arg-type]
                    [env.relay, hex(10**22)],
                )
                assert all(client.wait(i, timeout=60).status == "mined" for i in ids)
            wait_for("ok health", lambda: health(env)["status"] == "ok")
            lines = log_lines(env)
            said = [(x["message"], x.get("problem")) for x in lines]
            assert [p for m, p in said if m == "relay degraded"] == ["funds"]
            assert [p for m, p in said if m == "relay recovered"] == ["funds"]
            assert not [x for x in lines if x["level"] == "error"], lines
        finally:
            env.queue.stop()


def test_a_fixed_price_of_zero_on_a_network_without_fees(tmp_path: Path) -> None:
    with Anvil(accounts=12, extra_args=("--base-fee", "0")) as node:
        env = own_env(node, tmp_path, "--fee-mode", "fixed", "--gas-price-gwei", "0")
        try:
            balance = env.w3.eth.get_balance(env.relay)
            with RelayClient(env.url, env.w3, env.deployment, env.operator) as client:
                outcome = client.send_and_wait(
                    env.market().functions.admit(Account.create().address, os.urandom(32), 0),
                    gas=300_000,
                )
            assert outcome.status == "mined"
            receipt = env.w3.eth.get_transaction_receipt(outcome.tx_hash)
            assert receipt["effectiveGasPrice"] == 0 and receipt["gasUsed"] > 0
            assert env.w3.eth.get_balance(env.relay) == balance
        finally:
            env.queue.stop()


def set_base_fee(env: Env, wei: int) -> None:
    """Mine a block with this base fee (the next one's is 7/8 of it after an empty block)."""
    env.w3.provider.make_request(
        "anvil_setNextBlockBaseFeePerGas",  # type: ignore[arg-type]
        [hex(wei)],
    )
    env.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def test_fees_above_the_ceiling_wait_and_say_so(tmp_path: Path) -> None:
    with Anvil(accounts=12) as node:
        env = own_env(node, tmp_path, "--max-fee-gwei", "5")
        try:
            set_base_fee(env, 40 * GWEI)
            with RelayClient(env.url, env.w3, env.deployment, env.operator) as client:
                request_id = client.send(
                    env.market().functions.admit(Account.create().address, os.urandom(32), 0),
                    gas=300_000,
                )
                degraded = wait_for(
                    "degraded health",
                    lambda: (
                        (h := health(env))["status"] == "degraded"
                        and "ceiling" in h["reason"]
                        and h
                    ),
                )
                assert "at or above the relay's ceiling 5 gwei" in degraded["reason"], degraded
                time.sleep(1.0)
                assert client.get(request_id).status == "queued"
                set_base_fee(env, GWEI)
                outcome = client.wait(request_id, timeout=30)
            assert outcome.status == "mined"
            receipt = env.w3.eth.get_transaction_receipt(outcome.tx_hash)
            assert receipt["effectiveGasPrice"] <= 5 * GWEI
            wait_for("ok health", lambda: health(env)["status"] == "ok")
        finally:
            env.queue.stop()


def test_a_transaction_priced_out_of_the_pool_is_replaced(tmp_path: Path) -> None:
    """Mining held back, the base fee jumps above the max fee of the relay's pending
    transaction (Anvil drops it from its pool): the queue signs the same requests with the
    same relay nonce and higher fees, records that, and the replacement is mined."""
    with Anvil(accounts=12) as node:
        env = own_env(node, tmp_path)
        try:
            env.queue.stop()
            env.w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
            env.queue.start()
            with RelayClient(env.url, env.w3, env.deployment, env.operator) as client:
                request_id = client.send(
                    env.market().functions.admit(Account.create().address, os.urandom(32), 0),
                    gas=300_000,
                )
                first = wait_for("submitted", lambda: client.get(request_id).tx_hash)
                set_base_fee(env, 20 * GWEI)
                second = wait_for(
                    "a replacement", lambda: (h := client.get(request_id).tx_hash) != first and h
                )
                env.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
                outcome = client.wait(request_id, timeout=30)
            assert outcome.status == "mined" and outcome.tx_hash == second
            receipt = env.w3.eth.get_transaction_receipt(second)
            assert receipt["effectiveGasPrice"] >= 17 * GWEI
            with sqlite3.connect(tmp_path / "queue.db") as db:
                status, note = db.execute(
                    "SELECT status, note FROM txs WHERE tx_hash = ?", (first,)
                ).fetchone()
            assert status == "dropped" and f"replaced by {second}" in note
            assert "priced out" in note
        finally:
            env.queue.stop()


def test_a_transaction_without_a_receipt_makes_the_relay_degraded(
    own_anvil: Anvil, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The submitter in-process (its `stuck_after` is not a flag), on a real node whose
    blocks are held back: a relay transaction waiting over `stuck_after` is a problem,
    logged once; mined, it is gone."""
    w3 = connect(own_anvil.url)
    keys = own_anvil.keys
    operator = account(keys[0])
    deployment = deploy(w3, operator)
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    rpc = Rpc(own_anvil.url)
    store = Store(tmp_path / "queue.db")
    ledger = Ledger(rpc, deployment)
    submitter = Submitter(
        store, ledger, account(keys[RELAY_DEV_KEY_INDEX]), SubmitterConfig(stuck_after=1.0)
    )
    intake = Intake(
        store,
        ledger,
        max_depth=10,
        max_request_gas=5_000_000,
        min_deadline_margin=2.0,
        on_accept=submitter.wake,
    )
    caplog.set_level(logging.INFO, logger="tx_queue")
    submitter.start()
    try:
        with RelayClient("http://127.0.0.1:9", w3, deployment, operator) as client:
            signed = client.sign(
                deployment.contract(w3, "Market").functions.admit(
                    Account.create().address, os.urandom(32), 0
                ),
                gas=300_000,
                nonce=0,
            )
        stored, _ = intake.submit(
            ForwardRequest(
                signed.sender,
                signed.to,
                0,
                signed.gas,
                signed.deadline,
                signed.data,
                signed.signature,
            )
        )
        problem = wait_for("a stuck transaction", lambda: submitter.status.problem)
        assert "has waited" in problem and "relay nonce 0" in problem
        time.sleep(1.0)
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        wait_for("mined", lambda: (r := store.get(stored.id)) and r.status == "mined")
        wait_for("no problem", lambda: submitter.status.problem is None)
    finally:
        submitter.stop()
        store.close()
        rpc.close()
    said = [
        (r.getMessage(), getattr(r, "_fields", {}).get("problem"))
        for r in caplog.records
        if r.getMessage() in ("relay degraded", "relay recovered")
    ]
    assert said == [("relay degraded", "stuck"), ("relay recovered", "stuck")], said


def test_a_node_without_eip1559_gets_legacy_transactions_at_its_gas_price() -> None:
    """Anvil on Berlin (before EIP-1559): no base fee in its blocks, so the oracle signs at
    `eth_gasPrice`, which the node takes; on a current node the same oracle signs EIP-1559
    fees, and the fees are read back from the signed bytes."""
    relay = Account.create()
    for hardfork, eip1559 in (("berlin", False), ("prague", True)):
        with Anvil(accounts=1, extra_args=("--hardfork", hardfork)) as node:
            rpc = Rpc(node.url)
            try:
                rpc.call("anvil_setBalance", [relay.address, hex(10**18)])
                oracle = FeeOracle(rpc, FeePolicy())
                oracle.detect(rpc.call("eth_getBlockByNumber", ["latest", False]))
                fees = oracle.current()
                assert fees.legacy is not eip1559
                if not eip1559:
                    assert fees.max_fee == int(rpc.call("eth_gasPrice", []), 16)
                signed = relay.sign_transaction(
                    {
                        "nonce": 0,
                        "to": relay.address,
                        "value": 0,
                        "gas": 21_000,
                        "chainId": 31337,
                        **fees.tx_fields(),
                    }
                )
                assert fees_of(bytes(signed.raw_transaction)) == fees
                rpc.call("eth_sendRawTransaction", ["0x" + signed.raw_transaction.hex()])
                tx_hash = signed.hash.to_0x_hex()
                receipt = wait_for(
                    "the receipt", lambda r=rpc, h=tx_hash: r.call("eth_getTransactionReceipt", [h])
                )
                assert int(receipt["status"], 16) == 1
            finally:
                rpc.close()


def test_fees_the_node_refuses_fail_the_request_with_the_reason(tmp_path: Path) -> None:
    """A fixed price of 0 on a node with a base fee: each send is refused and recorded, the
    request fails after its attempts with the node's words, and `/health` says the node
    refuses the relay's price (before: the retry signed the same bytes again and
    the store refused them every second)."""
    with Anvil(accounts=12) as node:
        env = own_env(
            node, tmp_path, "--fee-mode", "fixed", "--gas-price-gwei", "0", "--max-attempts", "3"
        )
        try:
            with RelayClient(env.url, env.w3, env.deployment, env.operator) as client:
                request_id = client.send(
                    env.market().functions.admit(Account.create().address, os.urandom(32), 0),
                    gas=300_000,
                )
                outcome = client.wait(request_id, timeout=30, check=False)
            assert outcome.status == "failed", outcome
            assert "refused by the node" in outcome.reason and "base fee" in outcome.reason
            assert "gave up after 3 attempts" in outcome.reason
            body = health(env)
            assert (
                body["status"] == "degraded"
                and "refuses the relay's gas price 0 gwei" in (body["reason"])
            ), body
            with sqlite3.connect(tmp_path / "queue.db") as db:
                notes = [n for (n,) in db.execute("SELECT note FROM txs WHERE status = 'dropped'")]
            assert notes and all("refused by the node" in n for n in notes), notes
            assert not [x for x in log_lines(env) if x["level"] == "error"]
        finally:
            env.queue.stop()
