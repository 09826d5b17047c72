"""The transaction queue's client: sign an ERC-2771 forward request (EIP-712), submit it,
await its outcome. The signer needs no gas and no transaction nonce of its own.

    client = RelayClient("http://127.0.0.1:8082", w3, deployment, signer)
    outcome = client.send_and_wait(market.functions.publishDemand(game, 34_000))
    # a revert raises RequestReverted: MarketBidExceedsDemand(total=50000, demand=34000)

The client keeps the signer's next forwarder nonce, so it can pipeline several requests
(`send` several, then `wait` for each). Every HTTP call has an explicit timeout; submissions
carry an idempotency key, so a retried submission never queues twice. Requests are hashed and
signed with the queue's own types (`forward.ForwardRequest`, `forward.Domain`), gas padded and
deadlines set by the ledger's rules (`pad_gas`, `deadline_after`). Errors: `RelayError` and
its tree (`tx_queue.errors`).

Importing this module imports neither the queue's HTTP app nor its database.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32, HexStr
from web3 import Web3
from web3.contract.contract import ContractFunction

from ledger_contracts import Deployment, connect, deadline_after, pad_gas

from .errors import (
    RelayError,
    RelayUnavailable,
    RequestFailed,
    RequestRefused,
    RequestReverted,
    WaitTimeout,
)
from .forward import SEL_EIP712_DOMAIN, Domain, ForwardRequest, decode_domain, to_checksum_address

__all__ = [
    "Call",
    "Outcome",
    "RelayClient",
    "RelayError",
    "RelayUnavailable",
    "RequestFailed",
    "RequestRefused",
    "RequestReverted",
    "SignedRequest",
    "WaitTimeout",
]

DEFAULT_GAS = 500_000  # when the call cannot be estimated (it waits behind earlier requests)
_RETRY_STATUS = (429, 502, 503, 504)


@dataclass(frozen=True)
class Outcome:
    """A request as the queue reports it (`raw` is the whole JSON answer)."""

    id: int
    status: str
    tx_hash: str | None
    block_number: int | None
    error: str | None  # e.g. "MarketAlreadyAdmitted(account=0x...)"
    reason: str | None
    raw: dict[str, Any]

    @property
    def final(self) -> bool:
        return self.status in ("mined", "reverted", "failed")

    @classmethod
    def of(cls, body: dict[str, Any]) -> Outcome:
        error = body.get("error") or None
        return cls(
            id=int(body["id"]),
            status=str(body["status"]),
            tx_hash=body.get("tx_hash"),
            block_number=body.get("block_number"),
            error=error["text"] if error else None,
            reason=body.get("reason"),
            raw=body,
        )


@dataclass(frozen=True)
class SignedRequest(ForwardRequest):
    """A signed `ForwardRequestData` with the nonce it was signed for, ready to submit."""

    nonce: int

    def body(self, idempotency_key: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "from": self.sender,
            "to": self.to,
            "value": self.value,
            "gas": self.gas,
            "deadline": self.deadline,
            "data": "0x" + self.data.hex(),
            "signature": "0x" + self.signature.hex(),
            "nonce": self.nonce,
        }
        if idempotency_key is not None:
            out["idempotency_key"] = idempotency_key
        return out


Call = ContractFunction | tuple[str, bytes]  # a contract call, or (target, calldata)


class RelayClient:
    """One signer's client of the transaction queue (thread-safe)."""

    def __init__(
        self,
        queue_url: str,
        w3_or_rpc: Web3 | str,
        deployment: Deployment | str | Path,
        signer: LocalAccount | str,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.2,
        deadline_seconds: int = 600,
        http: httpx.Client | None = None,
    ) -> None:
        self.url = queue_url.rstrip("/")
        self.w3 = w3_or_rpc if isinstance(w3_or_rpc, Web3) else connect(w3_or_rpc)
        self.deployment = (
            deployment if isinstance(deployment, Deployment) else (Deployment.load(deployment))
        )
        self.signer = signer if isinstance(signer, LocalAccount) else Account.from_key(signer)
        self.address = self.signer.address
        self.forwarder = self.deployment.address("GridForwarder")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.deadline_seconds = deadline_seconds
        self._http = http or httpx.Client(timeout=httpx.Timeout(timeout, connect=3.0))
        self._lock = threading.Lock()
        self._next_nonce: int | None = None
        self._domain: Domain | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RelayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ signing

    @property
    def domain(self) -> Domain:
        """The forwarder's EIP-712 domain, read from the chain (ERC-5267) once."""
        if self._domain is None:
            try:
                returned = self.w3.eth.call(
                    {"to": self.forwarder, "data": HexStr("0x" + SEL_EIP712_DOMAIN.hex())}
                )
            except Exception as exc:  # node down or no forwarder there
                raise RelayUnavailable(
                    f"cannot read the forwarder's EIP-712 domain: {exc}"
                ) from exc
            self._domain = Domain(*decode_domain(bytes(returned)))
        return self._domain

    def next_nonce(self) -> int:
        """The forwarder nonce the next request will be signed for."""
        with self._lock:
            if self._next_nonce is None:
                self._next_nonce = self._queue_nonce()
            return self._next_nonce

    def resync(self) -> int:
        """Forget the local nonce and ask the queue (which knows what it holds) again."""
        with self._lock:
            self._next_nonce = self._queue_nonce()
            return self._next_nonce

    def sign(
        self,
        call: Call,
        *,
        gas: int | None = None,
        deadline: int | None = None,
        nonce: int | None = None,
    ) -> SignedRequest:
        """Sign `call` (a contract function with its arguments, or (to, calldata)) for the next
        nonce (reserved locally) or for `nonce`."""
        to, data = _target(call)
        if gas is None:
            gas = self._estimate(to, data)
        if deadline is None:
            deadline = deadline_after(self.deadline_seconds, self._chain_time())
        with self._lock:
            if nonce is None:
                if self._next_nonce is None:
                    self._next_nonce = self._queue_nonce()
                nonce = self._next_nonce
                self._next_nonce += 1
        unsigned = ForwardRequest(self.address, to, 0, gas, deadline, data, b"")
        digest = Hash32(unsigned.digest(self.domain, nonce))
        signature = self.signer.unsafe_sign_hash(digest).signature
        return SignedRequest(self.address, to, 0, gas, deadline, data, bytes(signature), nonce)

    def _chain_time(self) -> int | None:
        """The latest block's timestamp, or None while the node cannot be reached (requests
        still queue while it is down; the wall clock then sets their deadline)."""
        try:
            return int(self.w3.eth.get_block("latest")["timestamp"])
        except Exception:
            return None

    def _estimate(self, to: str, data: bytes) -> int:
        try:
            estimate = self.w3.eth.estimate_gas(
                {"from": self.forwarder, "to": to, "data": data + bytes.fromhex(self.address[2:])}
            )
        except Exception:  # reverts now; the queue explains it, or it waits behind others
            return DEFAULT_GAS
        return pad_gas(estimate)

    # ------------------------------------------------------------------ queue

    def submit(self, signed: SignedRequest, *, idempotency_key: str | None = None) -> int:
        """Queue a signed request; returns its id. A refusal raises `RequestRefused` and
        re-reads the signer's next nonce from the queue."""
        key = idempotency_key or uuid.uuid4().hex
        try:
            response = self._request("POST", "/requests", json=signed.body(key))
        except RelayUnavailable:
            with self._lock:
                self._next_nonce = None  # unknown whether it got in: ask again next time
            raise
        if response.status_code in (200, 202):
            return int(response.json()["id"])
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text
        try:
            self.resync()
        except RelayError:
            with self._lock:
                self._next_nonce = None
        raise RequestRefused(response.status_code, detail)

    def send(
        self,
        call: Call,
        *,
        gas: int | None = None,
        deadline: int | None = None,
        idempotency_key: str | None = None,
    ) -> int:
        """Sign and queue `call`; returns the request id."""
        return self.submit(
            self.sign(call, gas=gas, deadline=deadline), idempotency_key=idempotency_key
        )

    def get(self, request_id: int, *, wait: float = 0.0) -> Outcome:
        response = self._request(
            "GET", f"/requests/{request_id}", params={"wait": wait}, timeout=self.timeout + wait
        )
        if response.status_code != 200:
            raise RequestRefused(response.status_code, response.text)
        return Outcome.of(response.json())

    def wait(self, request_id: int, *, timeout: float = 120.0, check: bool = True) -> Outcome:
        """Wait until the request is final. With `check`, a revert raises `RequestReverted` and
        a failure `RequestFailed`; otherwise the outcome is returned whatever it is."""
        end = time.monotonic() + timeout
        while True:
            remaining = end - time.monotonic()
            outcome = self.get(request_id, wait=max(0.0, min(remaining, 30.0)))
            if outcome.final:
                break
            if remaining <= 0:
                raise WaitTimeout(
                    f"request {request_id} still {outcome.status} after {timeout:g} s"
                )
        if check and outcome.status == "reverted":
            raise RequestReverted(outcome)
        if check and outcome.status == "failed":
            raise RequestFailed(outcome)
        return outcome

    def send_and_wait(
        self,
        call: Call,
        *,
        gas: int | None = None,
        deadline: int | None = None,
        timeout: float = 120.0,
    ) -> Outcome:
        return self.wait(self.send(call, gas=gas, deadline=deadline), timeout=timeout)

    # ------------------------------------------------------------------ plumbing

    def _queue_nonce(self) -> int:
        response = self._request("GET", f"/signers/{self.address}/nonce")
        if response.status_code != 200:
            raise RelayUnavailable(
                f"queue could not tell the next nonce: {response.status_code} {response.text}"
            )
        return int(response.json()["next_nonce"])

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """An HTTP call with bounded retries on transport errors and 429/5xx answers."""
        last: Exception | str = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._http.request(method, self.url + path, **kwargs)
            except httpx.TransportError as exc:
                last = exc
                continue
            if response.status_code not in _RETRY_STATUS:
                return response
            last = f"HTTP {response.status_code}: {response.text[:300]}"
        raise RelayUnavailable(
            f"{method} {self.url}{path} failed after {self.retries + 1} attempts: {last}"
        )


def _target(call: Call) -> tuple[str, bytes]:
    if isinstance(call, tuple):
        to, data = call
        return to_checksum_address(to), bytes(data)
    # web3 has no public "calldata of this call" accessor; this one is stable since v6.
    return to_checksum_address(call.address), bytes.fromhex(call._encode_transaction_data()[2:])
