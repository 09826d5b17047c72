"""The queue over real HTTP against a real Anvil: what it accepts, what it refuses (nothing
reaches the chain), nonce pipelining, reverts recorded with their decoded custom error."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from eth_account import Account

from tx_queue.client import RelayClient
from tx_queue.errors import RequestRefused
from tx_queue.forward import ForwardRequest

from .conftest import Env

_open: list[RelayClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _open:
        _open.pop().close()


def client(env: Env, signer=None, **kw) -> RelayClient:  # noqa: ANN001
    c = RelayClient(env.url, env.w3, env.deployment, signer or env.operator, **kw)
    _open.append(c)
    return c


def admit_call(env: Env, prosumer: str | None = None):  # noqa: ANN201
    return env.market().functions.admit(prosumer or Account.create().address, os.urandom(32), 0)


def assert_refused_and_nothing_sent(env: Env, body: dict, status: int, match: str) -> None:
    relay_nonce, counts = env.relay_nonce(), httpx.get(f"{env.url}/health").json()["queue"]
    answer = httpx.post(f"{env.url}/requests", json=body, timeout=10)
    assert answer.status_code == status, answer.text
    assert match in answer.json()["detail"]
    time.sleep(0.1)
    assert env.relay_nonce() == relay_nonce  # no transaction from the relay
    assert httpx.get(f"{env.url}/health").json()["queue"]["counts"] == counts["counts"]


def test_a_request_is_relayed_and_mined(env: Env) -> None:
    prosumer = Account.create().address
    c = client(env)
    outcome = c.send_and_wait(admit_call(env, prosumer))
    assert outcome.status == "mined" and outcome.tx_hash and outcome.block_number
    assert env.market().functions.prosumer(prosumer).call()[2] is True  # admitted
    receipt = env.w3.eth.get_transaction_receipt(outcome.tx_hash)
    assert receipt["from"] == env.relay and receipt["to"] == env.deployment.address("GridForwarder")
    body = httpx.get(f"{env.url}/requests/{outcome.id}").json()
    assert body["from"] == env.operator.address and body["simulated"] is True
    listed = httpx.get(f"{env.url}/requests", params={"status": "mined", "limit": 1000}).json()
    assert outcome.id in [r["id"] for r in listed["requests"]]
    health = httpx.get(f"{env.url}/health").json()
    assert health["status"] == "ok" and health["node"]["reachable"]
    assert health["relay"]["address"] == env.relay and health["queue"]["depth"] == 0


def test_bad_signature_is_refused(env: Env) -> None:
    impostor = client(env, Account.create())
    signed = impostor.sign(admit_call(env), gas=200_000, nonce=0)
    body = signed.body() | {"from": env.operator.address}  # claims to be the operator
    del body["nonce"]
    assert_refused_and_nothing_sent(env, body, 422, "invalid signature")


def test_expired_deadline_is_refused(env: Env) -> None:
    signed = client(env).sign(admit_call(env), gas=200_000, deadline=int(time.time()) - 5)
    assert_refused_and_nothing_sent(env, signed.body(), 422, "deadline expired")


def test_foreign_target_is_refused(env: Env) -> None:
    c = client(env)
    foreign = c.sign((Account.create().address, b"\x12\x34"), gas=100_000)
    assert_refused_and_nothing_sent(env, foreign.body(), 422, "not a contract of this deployment")
    to_forwarder = c.sign((env.deployment.address("GridForwarder"), b""), gas=100_000)
    assert_refused_and_nothing_sent(env, to_forwarder.body(), 422, "the forwarder itself")
    c.resync()


def test_a_call_that_would_revert_is_refused_with_its_error(env: Env) -> None:
    prosumer = Account.create().address
    c = client(env)
    c.send_and_wait(admit_call(env, prosumer))
    again = c.sign(admit_call(env, prosumer), gas=300_000)
    expected = f"would revert: MarketAlreadyAdmitted(account={prosumer})"
    assert_refused_and_nothing_sent(env, again.body(), 422, expected)
    c.resync()
    stranger = client(env, Account.create())  # not an admin: AccessControl's named error
    with pytest.raises(RequestRefused, match="AccessControlUnauthorizedAccount"):
        stranger.send(admit_call(env), gas=300_000)


def test_replays_are_refused_and_repeats_are_idempotent(env: Env) -> None:
    c = client(env)
    signed = c.sign(admit_call(env), gas=300_000)
    first = httpx.post(f"{env.url}/requests", json=signed.body("key-1"))
    assert first.status_code == 202
    same = httpx.post(f"{env.url}/requests", json=signed.body("key-1"))
    assert same.status_code == 200 and same.json()["id"] == first.json()["id"]
    other = c.sign(admit_call(env), gas=300_000)
    clash = httpx.post(f"{env.url}/requests", json=other.body("key-1"))
    assert clash.status_code == 409 and "already used for a different request" in clash.text
    c.resync()
    c.wait(first.json()["id"])
    assert_refused_and_nothing_sent(env, signed.body(), 409, "replay")  # the same bytes again
    used = c.sign(admit_call(env), gas=300_000, nonce=signed.nonce)  # a used nonce, new call
    body = used.body()
    del body["nonce"]  # the queue finds the nonce from the signature
    assert_refused_and_nothing_sent(env, body, 409, f"nonce {signed.nonce} of")


def test_pipelined_requests_of_one_signer_run_in_nonce_order(env: Env) -> None:
    c = client(env)
    prosumer = Account.create().address
    market = env.market()
    first = c.send(market.functions.admit(prosumer, os.urandom(32), 0), gas=300_000)
    # Depends on the first: unless that one already ran, it can only be checked, not simulated.
    second = c.send(market.functions.revoke(prosumer), gas=300_000)
    assert c.wait(first).status == "mined"
    assert c.wait(second).status == "mined"
    assert env.market().functions.prosumer(prosumer).call()[2] is False  # revoked
    nonce = (
        env.deployment.contract(env.w3, "GridForwarder")
        .functions.nonces(env.operator.address)
        .call()
    )
    assert (
        nonce == httpx.get(f"{env.url}/signers/{env.operator.address}/nonce").json()["next_nonce"]
    )


def test_a_nonce_gap_is_refused(env: Env) -> None:
    c = client(env)
    ahead = c.sign(admit_call(env), gas=300_000, nonce=c.next_nonce() + 3)
    assert_refused_and_nothing_sent(env, ahead.body(), 422, "nonce gap")


def test_malformed_bodies_name_the_field(env: Env) -> None:
    answer = httpx.post(f"{env.url}/requests", json={"from": "0x12", "to": env.relay})
    assert answer.status_code == 422
    fields = {tuple(e["loc"]) for e in answer.json()["detail"]}
    assert ("body", "from") in fields and ("body", "signature") in fields
    assert httpx.get(f"{env.url}/requests/999999").status_code == 404
    assert httpx.get(f"{env.url}/requests", params={"status": "lost"}).status_code == 422


def test_request_hash_matches_what_the_forwarder_would_execute(env: Env) -> None:
    signed = client(env).sign(admit_call(env), gas=300_000)
    request = ForwardRequest(
        signed.sender, signed.to, 0, signed.gas, signed.deadline, signed.data, signed.signature
    )
    forwarder = env.deployment.contract(env.w3, "GridForwarder")
    assert forwarder.functions.verify(request.as_tuple()).call() is True


def test_concurrent_repeats_with_one_key_queue_once(env: Env) -> None:
    c = client(env)
    body = c.sign(admit_call(env), gas=300_000).body("key-concurrent")
    with ThreadPoolExecutor(6) as pool:
        answers = list(
            pool.map(lambda _: httpx.post(f"{env.url}/requests", json=body, timeout=30), range(6))
        )
    assert sorted(a.status_code for a in answers) == [200] * 5 + [202]
    assert len({a.json()["id"] for a in answers}) == 1
    assert c.wait(answers[0].json()["id"]).status == "mined"


def test_ids_beyond_the_database_integers_are_refused_naming_the_field(env: Env) -> None:
    """Before: 500 (SQLite cannot bind an integer above 2**63 - 1)."""
    for path, params, field in (
        (f"/requests/{2**63}", {}, "request_id"),
        ("/requests", {"after": 2**63}, "after"),
    ):
        answer = httpx.get(f"{env.url}{path}", params=params)
        assert answer.status_code == 422, answer.text
        assert field in {e["loc"][-1] for e in answer.json()["detail"]}
    assert httpx.get(f"{env.url}/requests/{2**63 - 1}").status_code == 404
    assert httpx.get(f"{env.url}/requests", params={"after": 2**63 - 1}).json()["requests"] == []


def test_too_little_gas_is_refused_naming_the_gas(env: Env) -> None:
    """The request's gas is what the forwarder gives the call, the transaction's base cost
    (21,000 and its data) comes on top: gas 1 runs out of gas (before: 503 'retry later',
    the simulation's base cost taken from the request's gas), and so does 8 KiB of data
    with too little gas for the call (before: 503 too, or accepted and then out of gas on
    chain), while the same data with enough gas for the call is relayed."""
    c = client(env)
    assert_refused_and_nothing_sent(
        env, c.sign(admit_call(env), gas=1).body(), 422, "would revert: OutOfGas(gas=1)"
    )
    c.resync()
    market = env.market().address

    def padded(gas: int):  # noqa: ANN202
        call = admit_call(env)._encode_transaction_data()
        return c.sign((market, bytes.fromhex(call[2:]) + os.urandom(8192)), gas=gas)

    assert_refused_and_nothing_sent(
        env, padded(30_000).body(), 422, "would revert: OutOfGas(gas=30000)"
    )
    c.resync()
    assert c.wait(c.submit(padded(100_000))).status == "mined"
