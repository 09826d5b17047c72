"""Whom the queue relays for, and how fairly, over real HTTP on a real Anvil: only for the
Market's admitted prosumers and role holders (403 for anyone else, nothing stored; a revoked
prosumer refused, a newly admitted one served, within the signer TTL); each prosumer within
its share (requests waiting, gas per window, recent reverts: 429 naming the limit), and the
market's own roles relayed first, so a flood of prosumer requests does not delay the clock.

The limits tests hold the chain still (Anvil's automine off) so that requests stay waiting."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from ledger_contracts import Anvil, account, connect, deploy, dev_keys, transact
from tx_queue.client import RelayClient, SignedRequest
from tx_queue.settings import RELAY_DEV_KEY_INDEX

from .checks import wait_final
from .conftest import Env, QueueProcess

FLOOD = 60  # prosumers, one 60 KiB request each
JUNK = 60 * 1024  # data a valid call carries along (ignored by the target)


def admit(env: Env, prosumer: str) -> None:
    transact(env.w3, env.operator, env.market().functions.admit(prosumer, os.urandom(32), 0))


def signed(
    env: Env,
    signer: LocalAccount,
    *,
    nonce: int = 0,
    junk: int = 0,
    gas: int = 100_000,
    call: bytes | None = None,
) -> SignedRequest:
    """A call that succeeds (`gameCount()`, with `junk` bytes of data after it), or `call`."""
    market = env.market()
    data = (
        call
        if call is not None
        else bytes.fromhex(market.functions.gameCount()._encode_transaction_data()[2:])
        + os.urandom(junk)
    )
    with RelayClient(env.url, env.w3, env.deployment, signer) as c:
        return c.sign((market.address, data), gas=gas, nonce=nonce)


def post(env: Env, body: dict) -> httpx.Response:
    return httpx.post(f"{env.url}/requests", json=body, timeout=30)


def health(env: Env) -> dict:
    return httpx.get(f"{env.url}/health", timeout=10).json()


# ---------------------------------------------------------------------- who is served


def test_an_unknown_signer_is_refused_and_nothing_is_stored(env: Env) -> None:
    stranger = Account.create()
    before = health(env)
    answer = post(env, signed(env, stranger).body())
    assert answer.status_code == 403, answer.text
    assert answer.json()["detail"].startswith(
        f"signer {stranger.address} is neither an admitted prosumer nor a role holder"
    )
    after = health(env)
    assert after["queue"]["counts"] == before["queue"]["counts"]
    assert after["signers"]["refused"]["unknown"] == before["signers"]["refused"]["unknown"] + 1
    assert (
        httpx.get(f"{env.url}/requests", params={"from": stranger.address}).json()["requests"] == []
    )
    admit(env, stranger.address)  # admitted: served once the queue's answer has expired
    time.sleep(after["signers"]["known_ttl_s"] + 0.3)
    answer = post(env, signed(env, stranger).body())
    assert answer.status_code == 202, answer.text
    assert wait_final(env.url, [answer.json()["id"]])[answer.json()["id"]]["status"] == "mined"


def test_a_revoked_prosumer_is_refused_after_revocation(env: Env) -> None:
    prosumer = Account.create()
    admit(env, prosumer.address)
    ttl = health(env)["signers"]["known_ttl_s"]
    time.sleep(ttl + 0.3)  # whatever the queue remembered of it has expired
    first = post(env, signed(env, prosumer).body())
    assert first.status_code == 202, first.text
    wait_final(env.url, [first.json()["id"]])
    transact(env.w3, env.operator, env.market().functions.revoke(prosumer.address))
    time.sleep(ttl + 0.3)
    answer = post(env, signed(env, prosumer, nonce=1).body())  # a call it could make before
    assert answer.status_code == 403, answer.text
    assert answer.json()["detail"].startswith(
        f"signer {prosumer.address} is neither an admitted prosumer nor a role holder"
    )
    assert [
        r["id"]
        for r in httpx.get(f"{env.url}/requests", params={"from": prosumer.address}).json()[
            "requests"
        ]
    ] == [first.json()["id"]]


# ---------------------------------------------------------------------- shares and priority


@pytest.fixture(scope="module")
def held(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """An Anvil of the module's own whose mining the tests control, and a queue with small
    prosumer limits (it sees automine off at start-up, so it never mines a block itself)."""
    tmp = tmp_path_factory.mktemp("tx_queue_fair")
    node = Anvil(accounts=12)
    node.start()
    try:
        w3 = connect(node.url)
        operator = account(node.keys[0])
        deployment = deploy(w3, operator)
        path = tmp / "deployment.json"
        deployment.save(path)
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        queue = QueueProcess(
            node.url,
            path,
            tmp / "queue.db",
            tmp / "queue.log",
            "--max-waiting",
            "3",
            "--gas-per-window",
            "1000000",
            "--revert-limit",
            "2",
            "--signer-ttl",
            "0.5",
        ).start()
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
        relay = account(node.keys[RELAY_DEV_KEY_INDEX])
        yield Env(w3, deployment, path, operator, relay.address, queue)
        queue.stop()
    finally:
        node.stop()


@contextmanager
def chain_still(env: Env, interval: int = 0) -> Iterator[None]:
    """No block unless `interval` (seconds between blocks); automine again afterwards."""
    rpc = env.w3.provider.make_request
    rpc("evm_setAutomine", [False])  # type: ignore[arg-type]
    if interval:
        rpc("evm_setIntervalMining", [interval])  # type: ignore[arg-type]
    try:
        yield
    finally:
        if interval:
            rpc("evm_setIntervalMining", [0])  # type: ignore[arg-type]
        rpc("evm_setAutomine", [True])  # type: ignore[arg-type]
        rpc("evm_mine", [])  # type: ignore[arg-type]


def prosumers(env: Env, n: int) -> list[LocalAccount]:
    keys = [Account.create() for _ in range(n)]
    for k in keys:
        admit(env, k.address)
    return keys


def test_a_prosumer_may_have_few_requests_waiting(held: Env) -> None:
    (p,) = prosumers(held, 1)
    with chain_still(held):
        ids = [post(held, signed(held, p, nonce=n).body()) for n in range(3)]
        assert [a.status_code for a in ids] == [202] * 3, [a.text for a in ids]
        before = health(held)["queue"]["counts"]
        fourth = post(held, signed(held, p, nonce=3).body())
        assert fourth.status_code == 429, fourth.text
        assert fourth.json()["detail"] == (
            f"signer {p.address} has 3 requests waiting, the most a prosumer may have "
            "(--max-waiting 3); retry when one of them is final"
        )
        assert fourth.headers["retry-after"] == "1"
        assert health(held)["queue"]["counts"] == before
    final = wait_final(held.url, [a.json()["id"] for a in ids])
    assert {b["status"] for b in final.values()} == {"mined"}
    assert post(held, signed(held, p, nonce=3).body()).status_code == 202  # room again


def test_a_prosumer_may_ask_for_so_much_gas_per_window(held: Env) -> None:
    p, q = prosumers(held, 2)
    for n in range(2):
        assert post(held, signed(held, p, nonce=n, gas=450_000).body()).status_code == 202
    third = post(held, signed(held, p, nonce=2, gas=450_000).body())
    assert third.status_code == 429, third.text
    detail = third.json()["detail"]
    assert detail.startswith(
        f"signer {p.address} asked for 900000 gas in the last 60 s; "
        "450000 more is above a prosumer's 1000000 per 60 s "
        "(--gas-per-window); retry in "
    )
    assert 50 <= int(third.headers["retry-after"]) <= 60
    assert post(held, signed(held, p, nonce=2, gas=100_000).body()).status_code == 202
    assert post(held, signed(held, q, gas=450_000).body()).status_code == 202  # its own share
    assert health(held)["signers"]["refused"]["gas"] >= 1


def test_a_prosumer_whose_requests_keep_reverting_is_throttled(held: Env) -> None:
    (p,) = prosumers(held, 1)
    stand = bytes.fromhex(held.market().functions.stand(999, 1, 0)._encode_transaction_data()[2:])
    with chain_still(held):  # behind a live request they are not simulated: they get in
        answers = [post(held, signed(held, p, nonce=0).body())]
        answers += [post(held, signed(held, p, nonce=n, call=stand).body()) for n in (1, 2)]
        assert [a.status_code for a in answers] == [202] * 3, [a.text for a in answers]
    final = wait_final(held.url, [a.json()["id"] for a in answers])
    assert [final[a.json()["id"]]["status"] for a in answers] == ["mined", "reverted", "reverted"]
    answer = post(held, signed(held, p, nonce=3).body())
    assert answer.status_code == 429, answer.text
    assert answer.json()["detail"].startswith(
        f"signer {p.address} is throttled: 2 of its requests reverted on chain in the last "
        "60 s (--revert-limit 2); retry in "
    )
    assert health(held)["signers"]["refused"]["reverts"] >= 1


def test_a_flood_of_prosumers_does_not_delay_the_clock(held: Env) -> None:
    """60 admitted prosumers each send a valid call with 60 KiB of data (about 2.5M gas of
    data apiece: a relay transaction carries 5, a block 2 of them), all accepted while the
    chain stands still; then the clock sends one request. Blocks are then mined one by one
    (as a chain with one-second blocks would): the clock's request is in the first blocks,
    ahead of dozens of prosumer requests accepted before it. (Before: acceptance order, so it
    came last, after 6 blocks of prosumer data.)"""
    keys = prosumers(held, FLOOD)
    clock = Account.create()
    market = held.market()
    transact(
        held.w3,
        held.operator,
        market.functions.grantRole(market.functions.CLOCK_ROLE().call(), clock.address),
    )
    bodies = [signed(held, k, junk=JUNK).body() for k in keys]
    clock_body = signed(held, clock).body()
    blocks = 0
    with chain_still(held), ThreadPoolExecutor(8) as pool:
        flood = list(pool.map(lambda b: post(held, b), bodies))
        assert [a.status_code for a in flood] == [202] * FLOOD, {a.text for a in flood}
        answer = post(held, clock_body)
        assert answer.status_code == 202, answer.text
        clock_id = answer.json()["id"]
        sent = time.monotonic()
        while (mined := httpx.get(f"{held.url}/requests/{clock_id}").json())["status"] not in (
            "mined",
            "reverted",
            "failed",
        ) and blocks < 20:
            time.sleep(0.5)  # the relay fills the window again
            held.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            blocks += 1
        waited = time.monotonic() - sent
        waiting = httpx.get(f"{held.url}/health").json()["queue"]["depth"]
    final = wait_final(held.url, [a.json()["id"] for a in flood], timeout=60)
    assert mined["status"] == "mined", mined
    assert {b["status"] for b in final.values()} == {"mined"}
    behind = [b for b in final.values() if b["block_number"] > mined["block_number"]]
    measured = {
        "blocks": blocks,
        "seconds": round(waited, 2),
        "mined_after_it": len(behind),
        "waiting_then": waiting,
    }
    print(f"\nthe clock's request behind a flood of {FLOOD}: {measured}")
    assert blocks <= 3 and len(behind) >= 24 and waiting >= 24, measured


def test_prosumers_leave_the_reserve_to_the_roles(held: Env, tmp_path: Path) -> None:
    """With room for 4 requests and half of it kept for the roles, two prosumer requests
    waiting fill the prosumers' share: a third prosumer gets 429, the clock still gets in.
    (Before: the clock got 429 whenever prosumers had filled the queue.)"""
    key = tmp_path / "relay.key"
    key.write_text(dev_keys(12)[8])  # a relay of its own (dev key 8): nonces apart
    rpc = held.w3.provider.make_request
    rpc("evm_setAutomine", [False])  # type: ignore[arg-type]
    small = QueueProcess(
        held.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        held.deployment_file,
        tmp_path / "q.db",
        tmp_path / "q.log",
        "--key-file",
        str(key),
        "--max-depth",
        "4",
        "--role-reserve",
        "0.5",
    ).start()
    rpc("evm_setAutomine", [True])  # type: ignore[arg-type]
    try:
        env = Env(held.w3, held.deployment, held.deployment_file, held.operator, "", small)
        a, b, c = prosumers(env, 3)
        clock = Account.create()
        market = held.market()
        transact(
            held.w3,
            held.operator,
            market.functions.grantRole(market.functions.CLOCK_ROLE().call(), clock.address),
        )
        with chain_still(env):
            assert [post(env, signed(env, k).body()).status_code for k in (a, b)] == [202, 202]
            third = post(env, signed(env, c).body())
            assert third.status_code == 429, third.text
            assert third.json()["detail"].startswith(
                "queue full for prosumers: 2 requests are waiting and 2 is the prosumers' share"
            )
            assert post(env, signed(env, clock).body()).status_code == 202
        assert health(env)["signers"]["refused"]["depth"] == 1
    finally:
        small.stop()


def test_health_shows_the_limits_in_use(held: Env) -> None:
    signers = health(held)["signers"]
    assert signers | {"refused": None} == {
        "known_ttl_s": 0.5,
        "max_waiting": 3,
        "gas_per_window": 1_000_000,
        "gas_window_s": 60.0,
        "revert_limit": 2,
        "revert_window_s": 60.0,
        "prosumer_depth": 9000,
        "refused": None,
    }
    assert set(signers["refused"]) == {"unknown", "depth", "waiting", "gas", "reverts"}
