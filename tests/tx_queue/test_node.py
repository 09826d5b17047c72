"""On a node of the test's own: it goes away and comes back during a burst; with mining held
back, a full queue answers 429 and requests pipelined behind unexecuted ones revert on chain
with their decoded error.

"Down" here is a real outage: the test's own Anvil is stopped (connection refused, its pool of
pending transactions lost) and restarted on the same port from the state it saved (`--state`),
so the chain is the same and only the node process was gone.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from ledger_contracts import Anvil, account, connect
from tx_queue.client import RelayClient
from tx_queue.errors import RequestReverted
from tx_queue.forward import Domain
from tx_queue.settings import RELAY_DEV_KEY_INDEX

from .checks import Burst, assert_exactly_once, assert_mined_or_duplicate
from .conftest import Env, grant_admins, make_env


def test_node_stopped_and_restarted_during_a_burst(own_anvil: Anvil, tmp_path: Path) -> None:
    w3 = connect(own_anvil.url)
    keys = own_anvil.keys
    env = make_env(w3, account(keys[0]), account(keys[RELAY_DEV_KEY_INDEX]), tmp_path)
    try:
        admins = [Account.create() for _ in range(3)]
        grant_admins(env, admins)
        burst = Burst(env, admins, per=25, url=lambda: env.url).start()
        burst.wait_acked(20)
        own_anvil.stop()
        time.sleep(0.5)
        health = httpx.get(f"{env.url}/health", timeout=10).json()
        assert health["status"] == "degraded" and not health["node"]["reachable"]
        signer = RelayClient(env.url, w3, env.deployment, admins[0], retries=0)
        with signer:
            signer._domain = Domain("gridgame", "1", 31337, env.deployment.address("GridForwarder"))
            late = signer.sign(
                (env.deployment.address("Market"), b"\x00" * 4), gas=100_000, nonce=0
            )
        answer = httpx.post(f"{env.url}/requests", json=late.body(), timeout=30)
        assert answer.status_code == 503 and "node unavailable" in answer.json()["detail"]
        counts = health["queue"]["counts"]
        assert counts["failed"] == 0 and counts["reverted"] == 0  # waiting, not given up
        time.sleep(1.0)
        own_anvil.start()  # same port, same chain (state file)
        burst.join()
        assert len(burst.acked) >= 60
        held = assert_exactly_once(env, env.url, burst.acked)
        # Executed once (above), but with no execution the node can show: only if the node
        # lost the relay transaction that carried them.
        unknown = [
            r
            for r in held
            if r["status"] == "failed" and "without an execution event" in (r["reason"] or "")
        ]
        assert not unknown or transactions_the_node_lost(w3, tmp_path / "queue.db"), unknown
        assert_mined_or_duplicate([r for r in held if r not in unknown], burst.acked)
        assert httpx.get(f"{env.url}/health").json()["status"] == "ok"
    finally:
        env.queue.stop()


def transactions_the_node_lost(w3: Web3, db: Path) -> list[str]:
    """Relay transactions the queue dropped because their nonce was used, that the node does
    not know. Anvil stopped while it mines can save a block without its transaction, its state
    changes kept (seen in CI: block 24 saved empty; its relay nonce, its requests' forwarder
    nonces and their effects on chain). The queue then cannot see how they executed."""
    with sqlite3.connect(db) as conn:
        dropped = [h for (h,) in conn.execute("SELECT tx_hash FROM txs WHERE status = 'dropped'")]
    return [
        h
        for h in dropped
        if w3.provider.make_request("eth_getTransactionByHash", [h])["result"] is None
    ]


def held_back_env(own_anvil: Anvil, tmp_path: Path, *extra: str) -> Env:
    """A queue whose transactions are mined only when the test says so (`evm_mine`)."""
    w3 = connect(own_anvil.url)
    keys = own_anvil.keys
    env = make_env(w3, account(keys[0]), account(keys[RELAY_DEV_KEY_INDEX]), tmp_path, *extra)
    env.queue.stop()
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    env.queue.start()
    return env


def test_requests_behind_unexecuted_ones_revert_on_chain_with_their_error(
    own_anvil: Anvil, tmp_path: Path
) -> None:
    env = held_back_env(own_anvil, tmp_path)
    try:
        market = env.market()
        prosumer = Account.create().address
        with RelayClient(env.url, env.w3, env.deployment, env.operator) as client:
            ids = [
                client.send(market.functions.admit(prosumer, b"\x03" * 32, 0), gas=300_000),
                client.send(market.functions.revoke(prosumer), gas=300_000),
                client.send(market.functions.revoke(prosumer), gas=300_000),
            ]
            views = [httpx.get(f"{env.url}/requests/{i}").json() for i in ids]
            assert [v["simulated"] for v in views] == [True, False, False]
            deadline = time.monotonic() + 10
            while httpx.get(f"{env.url}/health").json()["queue"]["counts"]["queued"]:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            env.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            assert client.wait(ids[0]).status == "mined"
            assert client.wait(ids[1]).status == "mined"
            with pytest.raises(
                RequestReverted, match=f"MarketNotAdmitted\\(account={prosumer}\\)"
            ) as caught:
                client.wait(ids[2])
        assert caught.value.name == "MarketNotAdmitted"
        assert caught.value.outcome.status == "reverted" and caught.value.outcome.tx_hash
    finally:
        env.queue.stop()


def test_a_full_queue_answers_429(own_anvil: Anvil, tmp_path: Path) -> None:
    env = held_back_env(own_anvil, tmp_path, "--max-depth", "2")
    try:
        with RelayClient(env.url, env.w3, env.deployment, env.operator, retries=0) as client:
            market = env.market()
            for _ in range(2):
                client.send(
                    market.functions.admit(Account.create().address, b"\x01" * 32, 0), gas=300_000
                )
            third = client.sign(
                market.functions.admit(Account.create().address, b"\x02" * 32, 0), gas=300_000
            )
        answer = httpx.post(f"{env.url}/requests", json=third.body())
        assert answer.status_code == 429 and "queue full" in answer.json()["detail"]
        assert httpx.get(f"{env.url}/health").json()["queue"]["depth"] == 2
    finally:
        env.queue.stop()


def test_concurrent_requests_never_overshoot_the_depth_limit(
    own_anvil: Anvil, tmp_path: Path
) -> None:
    """30 signers post at once into a queue of depth 10 whose transactions are not mined:
    exactly 10 get in, the others get 429. Before, the depth was read outside any lock and
    concurrent requests all passed it (the depth reached 65 with a limit of 60)."""
    w3 = connect(own_anvil.url)
    keys = own_anvil.keys
    env = make_env(
        w3, account(keys[0]), account(keys[RELAY_DEV_KEY_INDEX]), tmp_path, "--max-depth", "10"
    )
    try:
        admins = [Account.create() for _ in range(30)]
        grant_admins(env, admins)
        env.queue.stop()
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        env.queue.start()
        market = env.market()
        bodies = []
        for admin in admins:
            with RelayClient(env.url, w3, env.deployment, admin, retries=0) as client:
                bodies.append(
                    client.sign(
                        market.functions.admit(Account.create().address, os.urandom(32), 0),
                        gas=300_000,
                    ).body()
                )
        start = threading.Barrier(len(bodies))

        def post(body: dict) -> int:
            start.wait()
            return httpx.post(f"{env.url}/requests", json=body, timeout=60).status_code

        with ThreadPoolExecutor(len(bodies)) as pool:
            codes = list(pool.map(post, bodies))
        assert sorted(codes) == [202] * 10 + [429] * 20, codes
        assert httpx.get(f"{env.url}/health").json()["queue"]["depth"] == 10
    finally:
        env.queue.stop()
