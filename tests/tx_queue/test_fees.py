"""The relay's fees on nodes of the tests' own: EIP-1559 fees from the fee history stay
bounded under a steady stream in real time, a refused send (the relay short of funds) leaves
the queue working and `/health` degraded with the reason, a fixed price of zero relays on a
network without fees, and a transaction priced out of the pool is replaced with higher fees.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
from eth_account import Account

from ledger_contracts.anvil import Anvil
from ledger_contracts.chain import account, connect
from prosumer_client.relay import RelayClient
from tx_queue.settings import RELAY_DEV_KEY_INDEX

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
                    ids.append(client.send(market.functions.admit(
                        Account.create().address, os.urandom(32), 0), gas=300_000))
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
