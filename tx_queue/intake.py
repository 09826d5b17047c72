"""Accepting a signed forward request: every check before the request is stored.

Order: idempotency key and replay of the same bytes (store), fixed rules (value, signature
shape, target, gas, deadline), the signer (`signers`: a role holder or an admitted prosumer,
else 403, or 422 with the revert if its call would revert anyway), a place in the queue
(depth plus places taken by requests being checked, under one lock, so concurrent requests
cannot overshoot `max_depth`; prosumers only up to their share), then — under a per-signer
lock, so a signer's requests get consecutive nonces — a prosumer's share (requests waiting,
gas per window, recent reverts) and one JSON-RPC batch against the node:

* no request of the signer is live (queued or submitted): `nonces(from)`, the forwarder's own
  `verify(request)` and the target call as the forwarder would make it. Verified + the call
  succeeds = accepted; a revert is refused with its decoded custom error.
* the signer has live requests n..m: the request must be for nonce m+1; its signature is
  recovered locally (no node round trip). It cannot be simulated (it runs after requests that
  have not executed yet), so it is accepted on signature, deadline, target and nonce
  (`simulated: false`); if it reverts on chain, that is recorded as its fate.

Anything else is diagnosed with a second batch of ecrecovers over nearby nonces, to say
whether the request replays a used or queued nonce (409), skips ahead (422) or is simply not
signed by `from` (422).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from ledger_contracts import NodeUnavailable, RpcError

from . import forward as fw
from .errors import Conflict, Forbidden, InvalidRequest, QueueFull, Unavailable
from .ledger import Ledger, decode_address, decode_call_error, decode_uint
from .records import StoredRequest
from .signers import Kind, Signers
from .store import Store

_LOCKS = 64
_USED_NONCES_PROBED = 8
_FUTURE_NONCES_PROBED = 4


class Intake:
    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        *,
        max_depth: int,
        max_request_gas: int,
        min_deadline_margin: float,
        on_accept: Callable[[], None] = lambda: None,
        signers: Signers | None = None,
    ) -> None:
        self.store = store
        self.signers = signers  # None: relay for any signer, as a role holder
        self.ledger = ledger
        self.max_depth = max_depth
        self.max_request_gas = max_request_gas
        self.min_deadline_margin = min_deadline_margin
        self.on_accept = on_accept
        self._locks = [threading.Lock() for _ in range(_LOCKS)]
        self._depth_lock = threading.Lock()
        self._reserved = 0  # places taken by requests being checked, not yet stored

    def submit(
        self,
        request: fw.ForwardRequest,
        *,
        idempotency_key: str | None = None,
        nonce_hint: int | None = None,
    ) -> tuple[StoredRequest, bool]:
        """Check and store `request`. Returns (stored request, created); an idempotent repeat
        returns the first one with created=False. Raises a `Refused` subclass otherwise."""
        known = self._known(request, idempotency_key)
        if known is not None:
            return known, False
        self._check_fixed_rules(request)
        kind = self._kind(request)
        with self._place(kind):
            stored, created = self._check_and_store(request, idempotency_key, nonce_hint, kind)
        if created:
            self.on_accept()
        return stored, created

    def _kind(self, request: fw.ForwardRequest) -> Kind:
        if self.signers is None:
            return "role"
        try:
            self.ledger.ensure_ready()
            try:
                return self.signers.kind(request.sender)
            except Forbidden as refusal:
                self._would_revert(request, refusal)
                raise
        except NodeUnavailable as exc:
            raise Unavailable(
                f"node unavailable, the signer cannot be checked: {exc}; retry later"
            ) from exc

    def _would_revert(self, request: fw.ForwardRequest, refusal: Forbidden) -> None:
        """An unknown signer's request, properly signed, whose call would revert anyway (a
        clock that lost its role: `AccessControlUnauthorizedAccount`) is refused with that
        revert, the more precise reason, and the signer's refusal after it (422)."""
        if self.store.live_nonces(request.sender):
            return
        verified, simulated = self.ledger.rpc.batch(
            [self.ledger.verify_call(request), self.ledger.simulate_call(request)]
        )
        if (
            isinstance(verified, RpcError)
            or decode_uint(verified) != 1
            or not isinstance(simulated, RpcError)
        ):
            return
        revert = decode_call_error(simulated, request.gas)
        if revert is not None:
            raise InvalidRequest(f"would revert: {revert.text} (and {refusal.detail})")

    @contextlib.contextmanager
    def _place(self, kind: Kind) -> Iterator[None]:
        """A place in the queue for one request while it is checked and stored. A stored
        request counts in `depth()` before its place is given back, so the sum never
        undercounts. A prosumer's request only within the prosumers' share."""
        with self._depth_lock:
            depth = self.store.depth() + self._reserved
            if depth >= self.max_depth:
                raise QueueFull(
                    f"queue full: {self.max_depth} requests are waiting; retry later",
                    retry_after=1.0,
                )
            if kind == "prosumer" and self.signers is not None:
                self.signers.check_depth(depth)
            self._reserved += 1
        try:
            yield
        finally:
            with self._depth_lock:
                self._reserved -= 1

    def _check_and_store(
        self,
        request: fw.ForwardRequest,
        idempotency_key: str | None,
        nonce_hint: int | None,
        kind: Kind,
    ) -> tuple[StoredRequest, bool]:
        lock = self._locks[hash(request.sender) % _LOCKS]
        with lock:
            known = self._known(request, idempotency_key)  # a concurrent twin got in meanwhile
            if known is not None:
                return known, False
            if kind == "prosumer" and self.signers is not None:
                self.signers.check_share(request.sender, request.gas)
            try:
                self.ledger.ensure_ready()
                nonce, simulated = self._check_on_chain(request, nonce_hint)
            except NodeUnavailable as exc:
                raise Unavailable(
                    f"node unavailable, the request cannot be checked: {exc}; retry later"
                ) from exc
            try:
                stored = self.store.add_request(
                    request,
                    nonce,
                    idempotency_key=idempotency_key,
                    simulated=simulated,
                    priority=kind == "role",
                )
            except sqlite3.IntegrityError:  # a concurrent twin got in first
                known = self._known(request, idempotency_key)
                if known is not None:
                    return known, False
                raise Conflict(
                    f"replay: nonce {nonce} of {request.sender} is already queued"
                ) from None
        return stored, True

    # ------------------------------------------------------------------ checks

    def _known(self, request: fw.ForwardRequest, key: str | None) -> StoredRequest | None:
        found = self.store.by_key_or_hash(key, request.request_hash)
        same_key = next((r for r in found if key is not None and r.idempotency_key == key), None)
        if same_key is not None:
            if same_key.request.request_hash == request.request_hash:
                return same_key
            raise Conflict(
                f"idempotency key {key!r} was already used for a different request (#{same_key.id})"
            )
        if found:
            raise Conflict(
                f"replay: this signed request is already request #{found[0].id} ({found[0].status})"
            )
        return None

    def _check_fixed_rules(self, request: fw.ForwardRequest) -> None:
        if request.value != 0:
            raise InvalidRequest(
                f"value must be 0: the relay forwards no ether (got {request.value})"
            )
        problem = fw.signature_problem(request.signature)
        if problem:
            raise InvalidRequest(f"invalid signature: {problem}")
        if request.gas > self.max_request_gas:
            raise InvalidRequest(
                f"gas {request.gas} is above the relay's limit per request ({self.max_request_gas})"
            )
        if request.to == self.ledger.forwarder:
            raise InvalidRequest(f"target {request.to} is the forwarder itself")
        if self.ledger.domain is not None and request.to not in self.ledger.targets:
            if request.to in self.ledger.untrusting:
                raise InvalidRequest(
                    f"target {request.to} ({self.ledger.untrusting[request.to]})"
                    " does not trust the forwarder"
                )
            allowed = ", ".join(f"{n} {a}" for a, n in self.ledger.targets.items())
            raise InvalidRequest(
                f"target {request.to} is not a contract of this deployment (allowed: {allowed})"
            )
        now = time.time()
        if request.deadline < now:
            raise InvalidRequest(
                f"deadline expired: {request.deadline} is "
                f"{now - request.deadline:.0f} s in the past"
            )
        if request.deadline < now + self.min_deadline_margin:
            raise InvalidRequest(
                f"deadline too close: {request.deadline} leaves less than "
                f"{self.min_deadline_margin:g} s to relay the request"
            )

    def _check_on_chain(self, request: fw.ForwardRequest, hint: int | None) -> tuple[int, bool]:
        if request.to not in self.ledger.targets:  # the set is known once the node answered
            self._check_fixed_rules(request)
        chain_time = self.ledger.chain_time()
        if request.deadline < chain_time + self.min_deadline_margin:
            raise InvalidRequest(
                f"deadline expired or too close: {request.deadline}, "
                f"the chain's time is {chain_time}"
            )
        signer = request.sender
        live = self.store.live_nonces(signer)
        if not live:
            answers = self.ledger.rpc.batch(
                [
                    self.ledger.nonce_call(signer),
                    self.ledger.verify_call(request),
                    self.ledger.simulate_call(request),
                ]
            )
            chain_nonce = _uint(answers[0])
            if _uint(answers[1]) == 1:
                self._require_success(request, answers[2])
                return chain_nonce, True
            self._diagnose(request, chain_nonce, chain_nonce, live, hint)
        expected = live[-1] + 1
        domain = self.ledger.ensure_ready()
        if fw.recover(request.digest(domain, expected), request.signature) == signer:
            # Signed for the next nonce after its live requests: accepted without asking the
            # node (it runs after requests that have not executed yet, so it cannot be
            # simulated; if something outside used the nonce meanwhile, the submitter sees it).
            return expected, False
        chain_nonce = _uint(self.ledger.rpc.batch([self.ledger.nonce_call(signer)])[0])
        self._diagnose(request, chain_nonce, max(expected, chain_nonce), live, hint)

    def _require_success(self, request: fw.ForwardRequest, answer: Any) -> None:
        if not isinstance(answer, RpcError):
            return
        revert = decode_call_error(answer, request.gas)
        if revert is None:
            raise Unavailable(f"could not simulate the call: {answer}")
        raise InvalidRequest(f"would revert: {revert.text}")

    def _diagnose(
        self,
        request: fw.ForwardRequest,
        chain_nonce: int,
        expected: int,
        live: list[int],
        hint: int | None,
    ) -> NoReturn:
        """Raise the most precise refusal for a request whose signature does not verify for
        the signer's next nonce."""
        domain = self.ledger.ensure_ready()
        signer = request.sender
        if hint is not None:
            candidates = [hint]
        else:
            used = range(max(0, chain_nonce - _USED_NONCES_PROBED), chain_nonce)
            future = range(expected, expected + _FUTURE_NONCES_PROBED + 1)
            candidates = sorted({*used, *live[:64], *future})
        answers = self.ledger.rpc.batch(
            [
                self.ledger.ecrecover_call(request.digest(domain, n), request.signature)
                for n in candidates
            ]
        )
        signed_for = next(
            (n for n, a in zip(candidates, answers, strict=True) if _recovered(a) == signer), None
        )
        if signed_for is None:
            nonce_text = (
                f"nonce {hint}"
                if hint is not None
                else (f"nonce {expected} (the signer's next forwarder nonce)")
            )
            raise InvalidRequest(
                f"invalid signature: it does not recover to {signer} for {nonce_text} in the "
                f"EIP-712 domain {domain.name!r} version {domain.version!r} chain "
                f"{domain.chain_id} forwarder {domain.verifying_contract}"
            )
        if signed_for < chain_nonce:
            raise Conflict(
                f"replay: nonce {signed_for} of {signer} was already used on chain "
                f"(the next one is {expected})"
            )
        if signed_for in live:
            twin = self.store.live_by_nonce(signer, signed_for)
            which = f" as request #{twin.id}" if twin else ""
            raise Conflict(f"replay: nonce {signed_for} of {signer} is already queued{which}")
        if signed_for > expected:
            raise InvalidRequest(
                f"nonce gap: the request is signed for nonce {signed_for}, but "
                f"the next nonce of {signer} is {expected}"
            )
        raise InvalidRequest(
            f"the forwarder refuses the request (verify() is false) although "
            f"it is signed for the next nonce {signed_for}: target, deadline "
            f"or signature not accepted on chain"
        )


def _uint(answer: Any) -> int:
    if isinstance(answer, RpcError):
        raise NodeUnavailable(f"the forwarder did not answer: {answer}")
    return decode_uint(answer)


def _recovered(answer: Any) -> str | None:
    return None if isinstance(answer, RpcError) else decode_address(answer)
