"""Shared checks and load for the crash and node-outage tests."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from tx_queue.client import RelayClient
from tx_queue.errors import RelayUnavailable, RequestRefused
from tx_queue.forward import TOPIC_EXECUTED, decode_executed

from .conftest import Env


class Burst:
    """Admins each send `per` admit() requests through the queue, pipelined, from threads.
    A request counts as acknowledged once the queue answered 200/202 with its id. While the
    queue or the node is away, a call is retried (signed again) until `deadline`."""

    def __init__(
        self, env: Env, admins: list[LocalAccount], per: int, url: Callable[[], str]
    ) -> None:
        self.env, self.admins, self.per, self.url = env, admins, per, url
        self.acked: dict[int, str] = {}  # request id -> signer
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(a,)) for a in admins]

    def start(self) -> Burst:
        for t in self.threads:
            t.start()
        return self

    def join(self) -> None:
        for t in self.threads:
            t.join(120)

    def wait_acked(self, n: int, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while len(self.acked) < n and time.monotonic() < end:
            time.sleep(0.01)
        assert len(self.acked) >= n, f"only {len(self.acked)} acknowledged"

    def _run(self, admin: LocalAccount) -> None:
        market = self.env.market()
        deadline = time.monotonic() + 90
        sent = 0
        with RelayClient(
            self.url(),
            self.env.w3,
            self.env.deployment,
            admin,
            timeout=5.0,
            retries=1,
            backoff=0.05,
        ) as client:
            while sent < self.per and time.monotonic() < deadline and not self.stop.is_set():
                call = market.functions.admit(Account.create().address, os.urandom(32), 0)
                while time.monotonic() < deadline and not self.stop.is_set():
                    try:
                        request_id = client.send(call, gas=300_000)
                    except (RelayUnavailable, httpx.HTTPError):
                        time.sleep(0.1)
                        client.url = self.url().rstrip("/")  # the queue may have moved
                        continue
                    except RequestRefused as exc:
                        if exc.status >= 500:
                            time.sleep(0.1)
                            continue
                        break  # e.g. an earlier attempt of this call did get in
                    with self.lock:
                        self.acked[request_id] = admin.address
                    break
                sent += 1


def all_requests(url: str) -> list[dict]:
    out: list[dict] = []
    after = 0
    while True:
        page = httpx.get(f"{url}/requests", params={"after": after, "limit": 1000}).json()
        out += page["requests"]
        if page["next_after"] is None:
            return out
        after = page["next_after"]


def wait_final(url: str, ids: list[int], timeout: float = 60.0) -> dict[int, dict]:
    end = time.monotonic() + timeout
    out: dict[int, dict] = {}
    for request_id in ids:
        remaining = max(0.0, min(30.0, end - time.monotonic()))
        body = httpx.get(
            f"{url}/requests/{request_id}", params={"wait": remaining}, timeout=remaining + 10
        ).json()
        out[request_id] = body
    return out


def assert_exactly_once(env: Env, url: str, acked: dict[int, str]) -> list[dict]:
    """Every acknowledged request is final; every request the queue holds is final; the chain
    executed each relayed request exactly once and nothing else."""
    final = wait_final(url, list(acked))
    not_final = {
        i: b["status"]
        for i, b in final.items()
        if b["status"] not in ("mined", "reverted", "failed")
    }
    assert not not_final, not_final
    held = all_requests(url)
    assert {r["status"] for r in held} <= {"mined", "reverted", "failed"}
    assert set(acked) <= {r["id"] for r in held}
    forwarder = env.deployment.address("GridForwarder")
    logs = env.w3.eth.get_logs(
        {
            "address": forwarder,
            "fromBlock": env.deployment.block,
            "toBlock": "latest",
            "topics": ["0x" + TOPIC_EXECUTED.hex()],
        }
    )
    executed: dict[tuple[str, int], int] = {}
    for log in logs:
        signer, nonce, _ok = decode_executed([bytes(t) for t in log["topics"]], bytes(log["data"]))
        executed[(signer, nonce)] = executed.get((signer, nonce), 0) + 1
    assert all(count == 1 for count in executed.values())  # the forwarder's nonce guarantees it
    ran = {(r["from"], r["nonce"]) for r in held if r["status"] in ("mined", "reverted")}
    relayed = {k for k in executed if k[0] in set(acked.values())}
    assert ran == relayed  # what the queue says ran is exactly what ran
    admitted = env.market().events.ProsumerAdmitted().get_logs(from_block=env.deployment.block)
    assert len(admitted) == sum(r["status"] == "mined" for r in held)
    return held


def assert_mined_or_duplicate(held: list[dict], acked: dict[int, str]) -> None:
    """Every acknowledged request was mined, except a call sent again after its first attempt
    got in unacknowledged (the queue was killed or the node left before the answer): that
    second copy reverts on chain as a duplicate admission."""
    others = [r for r in held if r["id"] in acked and r["status"] != "mined"]
    assert all(
        r["status"] == "reverted" and r["error"]["name"] == "MarketAlreadyAdmitted" for r in others
    ), others
