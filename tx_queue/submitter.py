"""The one submitter: relays queued requests in order with the relay's account and nonces.

Each relay transaction is `executeBatch(requests, refundReceiver=relay)` on the forwarder, so
one failing request does not revert the others. Up to `window` transactions with consecutive
relay nonces are in flight; receipts are collected in nonce order.

Crash safety: a transaction is signed, then recorded (raw bytes, hash, relay nonce, its
requests marked submitted) in one commit, and only then sent. After a restart every pending
transaction is sent again (same bytes, so the same hash; a node that has it says so) and its
receipt awaited; one whose relay nonce was taken by another transaction is dropped and its
requests queued again. The forwarder's per-signer nonce makes each request executable once,
whatever the relay resends.

Fees come from `fees.FeeOracle` (EIP-1559 from the fee history under a ceiling, or a fixed
price). A send the node refuses is recorded (the transaction `dropped`, with the node's
message) and its relay nonce reused: refused for the relay's funds, its requests wait (not
counting an attempt) and sending pauses, retried with growing pauses; refused for anything
else, its requests are queued again counting an attempt (fees read afresh), so they fail with
the reason after `max_attempts`. A pending transaction priced out of the pool (its max fee
below the base fee) or refused when re-sent for its fees is replaced: the same requests and
nonce with fees at least 12.5% higher, within the ceiling. While the relay is short of funds,
above its fee ceiling or has a transaction waiting over `stuck_after`, `status.problem` says
so (`/health` is degraded) and the log says it once.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger_contracts import NodeUnavailable, RpcError

from . import forward as fw
from .fees import FeeOracle, FeePolicy, Fees, FeesTooHigh, fees_of, gwei, refusal_kind
from .ledger import Ledger
from .logs import RateLimited, fields, get_logger
from .outcomes import Judge
from .store import FINAL, Fate, Store, StoredRequest

log = get_logger("submitter")

# Answers to eth_sendRawTransaction that mean "this nonce is taken or the tx is known":
# the receipt (or its absence once the nonce is used) decides.
_BENIGN = ("already known", "known transaction", "already imported", "nonce too low",
           "alreadyknown", "already exists", "replacement transaction underpriced")


@dataclass
class InFlight:
    tx_id: int
    relay_nonce: int
    tx_hash: str
    raw: bytes
    requests: list[StoredRequest]
    fees: Fees
    last_broadcast: float | None = None
    first_broadcast: float | None = None
    created: float = field(default_factory=time.monotonic)


@dataclass
class SubmitterConfig:
    window: int = 4
    max_batch: int = 100
    max_batch_gas: int = 15_000_000
    max_attempts: int = 3
    poll_interval: float = 0.02
    idle_wait: float = 0.5
    rebroadcast_after: float = 15.0
    fees: FeePolicy = field(default_factory=FeePolicy)
    stuck_after: float = 30.0  # a transaction without a receipt this long: /health degraded
    reprice_after: float = 2.0  # the oldest transaction waits this long: priced out?
    funds_retry: tuple[float, float] = (1.0, 15.0)  # pause after a refusal for funds: first, most
    drop_after: float = 3.0  # a used relay nonce without our receipt for this long: dropped
    nudge_after: float = 0.2  # Anvil automine: mine a block when a sent tx waits this long


@dataclass
class Status:
    alive: bool = False
    node_ok: bool = False
    last_error: str | None = None
    problem: str | None = None  # why the relay cannot relay now (funds, fees, stuck)
    next_nonce: int | None = None
    in_flight: int = 0
    sent_txs: int = 0
    counters: dict[str, int] = field(default_factory=dict)


class TxRejected(Exception):
    pass


class Submitter:
    def __init__(self, store: Store, ledger: Ledger, relay: LocalAccount,
                 config: SubmitterConfig,
                 notify: Callable[[list[int]], None] = lambda ids: None) -> None:
        self.store = store
        self.ledger = ledger
        self.relay = relay
        self.config = config
        self.notify = notify
        self.judge = Judge(ledger, store, max_attempts=config.max_attempts)
        self.status = Status()
        self.inflight: list[InFlight] = []
        self._next_nonce: int | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.fees = FeeOracle(ledger.rpc, config.fees)
        self._problems: dict[str, str] = {}  # kind ("funds", "fees", "stuck") -> text
        self._logged: set[str] = set()
        self._hold_until = 0.0  # no new transaction before (the relay is short of funds)
        self._funds_pause = config.funds_retry[0]
        self._gas_cap = config.max_batch_gas
        self._down_log = RateLimited(5.0)
        self._nonce_checked = 0.0
        self._polled = 0.0
        self._suspect: tuple[str, float] | None = None
        self._automine = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="submitter", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """A request was accepted: worth a look only if another transaction may be sent."""
        if len(self.inflight) < self.config.window:
            self._wake.set()

    def _run(self) -> None:
        self.status.alive = True
        backoff = 0.1
        try:
            while not self._stop.is_set():
                try:
                    if self._next_nonce is None:
                        self._recover()
                    busy = self._step()
                    self.status.node_ok = True
                    backoff = 0.1
                except NodeUnavailable as exc:
                    self.status.node_ok = False
                    for t in self.inflight:  # a restarted node may have lost its mempool
                        t.last_broadcast = None
                    self.status.last_error = str(exc)
                    if self._down_log.due():
                        log.warning("node down, requests wait", extra=fields(error=str(exc)))
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 2.0)
                    continue
                except Exception as exc:  # the same failure again is not logged again
                    error = f"{type(exc).__name__}: {exc}"
                    if self._problems.get("failing") != f"the submitter fails: {error}":
                        log.exception("submitter step failed")
                    self.status.last_error = error
                    self._problems["failing"] = f"the submitter fails: {error}"
                    self._report()
                    self._stop.wait(1.0)
                    continue
                self._problems.pop("failing", None)
                self.status.in_flight = len(self.inflight)
                if not busy:
                    wait = self.config.poll_interval if self.inflight else self.config.idle_wait
                    self._wake.wait(wait)
                    self._wake.clear()
        finally:
            self.status.alive = False

    # ------------------------------------------------------------------ recovery

    def _recover(self) -> None:
        """Take over what a previous run left: pending transactions, the next relay nonce."""
        self.ledger.ensure_ready()
        block = self.ledger.rpc.call("eth_getBlockByNumber", ["latest", False])
        self._gas_cap = min(self.config.max_batch_gas, int(block["gasLimit"], 16) * 9 // 10)
        self.fees.detect(block)
        pending_nonce = int(self.ledger.rpc.call(
            "eth_getTransactionCount", [self.relay.address, "pending"]), 16)
        try:  # Anvil mines on arrival only: a transaction that arrives while it mines can wait
            self._automine = self.ledger.rpc.call("anvil_getAutomine", []) is True
        except RpcError:
            self._automine = False
        self.inflight = [
            InFlight(t.id, t.relay_nonce, t.tx_hash, t.raw,
                     [r for i in t.request_ids if (r := self.store.get(i)) is not None],
                     fees_of(t.raw))
            for t in self.store.pending_txs()]
        last = self.inflight[-1].relay_nonce + 1 if self.inflight else 0
        self._next_nonce = max(pending_nonce, last)
        self.status.next_nonce = self._next_nonce
        if self.inflight:
            log.info("resuming pending relay transactions", extra=fields(
                txs=len(self.inflight), nonces=[t.relay_nonce for t in self.inflight]))

    # ------------------------------------------------------------------ one step

    def _step(self) -> bool:
        busy = self._collect()
        self._rebroadcast()
        busy = self._send_next() or busy
        self._report()
        return busy

    def _report(self) -> None:
        """Set `status.problem` from what stops relaying now; log each kind once when it
        appears and once when it is gone."""
        oldest = self.inflight[0] if self.inflight else None
        waited = time.monotonic() - oldest.created if oldest else 0.0
        if oldest is not None and waited > self.config.stuck_after:
            self._problems["stuck"] = (
                f"relay transaction {oldest.tx_hash} (relay nonce {oldest.relay_nonce}, "
                f"{oldest.fees}) has waited {waited:.0f} s for a receipt")
        else:
            self._problems.pop("stuck", None)
        for kind in sorted(self._problems.keys() - self._logged):
            log.warning("relay degraded", extra=fields(problem=kind,
                                                       reason=self._problems[kind]))
        for kind in sorted(self._logged - self._problems.keys()):
            log.info("relay recovered", extra=fields(problem=kind))
        self._logged = set(self._problems)
        self.status.problem = "; ".join(self._problems.values()) or None

    def _collect(self) -> bool:
        now = time.monotonic()
        if not self.inflight or now - self._polled < self.config.poll_interval:
            return False  # receipts are polled at most every poll_interval
        self._polled = now
        receipts = self.ledger.rpc.batch(
            [("eth_getTransactionReceipt", [t.tx_hash]) for t in self.inflight])
        done = 0
        for t, receipt in zip(self.inflight, receipts, strict=True):
            if isinstance(receipt, RpcError):
                raise NodeUnavailable(f"receipt of {t.tx_hash}: {receipt}")
            if receipt is None:
                break
            self._finish(t, receipt)
            done += 1
        del self.inflight[:done]
        if done:
            self._problems.pop("priced out", None)
        if self.inflight and done == 0:
            self._nudge(self.inflight[0])
            self._check_dropped(self.inflight[0])
            if self.inflight:
                self._check_priced_out(self.inflight[0])
        return done > 0

    def _check_priced_out(self, t: InFlight) -> None:
        """The oldest transaction has no receipt: if the base fee rose above its max fee, no
        block can include it (and a node may have dropped it): replace it."""
        if (t.last_broadcast is None or self.config.fees.mode == "fixed"
                or time.monotonic() - t.created < self.config.reprice_after):
            return
        with contextlib.suppress(FeesTooHigh):  # the base fee is read all the same
            self.fees.current()
        base = self.fees.base_fee
        if base is not None and t.fees.max_fee < base:
            self._replace(t, f"priced out: its {t.fees} is below the base fee {gwei(base)}")

    def _nudge(self, t: InFlight) -> None:
        """Anvil's automine mines a block when a transaction arrives; one that arrives while
        a block is being mined can stay in its pool with nothing to trigger the next block.
        Only on such a node (`anvil_getAutomine` is true), mine one."""
        if (self._automine and t.first_broadcast is not None
                and time.monotonic() - t.first_broadcast > self.config.nudge_after):
            self.ledger.rpc.call("evm_mine", [])
            t.first_broadcast = time.monotonic()
            log.debug("mined a block for a waiting transaction (Anvil automine)",
                      extra=fields(tx=t.tx_hash))

    def _finish(self, t: InFlight, receipt: dict[str, Any]) -> None:
        fates = self.judge.mined(t.tx_hash, receipt, t.requests)
        status = "mined" if int(receipt["status"], 16) == 1 else "reverted"
        self.store.finish_tx(t.tx_id, status, fates, block_number=int(receipt["blockNumber"], 16),
                             gas_used=int(receipt["gasUsed"], 16))
        self._count(fates)
        log.info("relay transaction mined", extra=fields(
            tx=t.tx_hash, relay_nonce=t.relay_nonce, status=status, requests=len(t.requests),
            outcomes={s: sum(f.status == s for f in fates) for s in {f.status for f in fates}}))
        self.notify([f.request_id for f in fates if f.status in FINAL])

    def _check_dropped(self, t: InFlight) -> None:
        """The oldest transaction has no receipt: if its relay nonce is used anyway, another
        transaction took it; queue its requests again."""
        now = time.monotonic()
        if now - self._nonce_checked < 1.0:
            return
        self._nonce_checked = now
        used = int(self.ledger.rpc.call(
            "eth_getTransactionCount", [self.relay.address, "latest"]), 16)
        if used <= t.relay_nonce:
            self._suspect = None
            return
        if self.ledger.rpc.call("eth_getTransactionReceipt", [t.tx_hash]) is not None:
            return  # mined meanwhile: the next step collects it
        if self._suspect is None or self._suspect[0] != t.tx_hash:
            self._suspect = (t.tx_hash, now)  # a node may count the nonce before the receipt
            return
        if now - self._suspect[1] < self.config.drop_after:
            return
        self._suspect = None
        reason = f"relay nonce {t.relay_nonce} was used by another transaction"
        self._drop(t, [Fate(r.id, "queued", reason=reason) for r in t.requests], reason)
        self.inflight.remove(t)

    def _drop(self, t: InFlight, fates: list[Fate], reason: str, *, quiet: bool = False
              ) -> None:
        self.store.finish_tx(t.tx_id, "dropped", fates, note=reason)
        self._count(fates)
        (log.debug if quiet else log.warning)("relay transaction dropped", extra=fields(
            tx=t.tx_hash, relay_nonce=t.relay_nonce, reason=reason))
        self.notify([f.request_id for f in fates if f.status in FINAL])

    def _replace(self, t: InFlight, why: str) -> None:
        """Sign `t`'s requests again with its relay nonce and higher fees, record the new
        transaction in place of `t` (one commit), then send it."""
        try:
            fees = self.fees.current().replacing(t.fees)
        except FeesTooHigh as exc:
            self._problems["priced out"] = f"relay transaction {t.tx_hash} is {why}; {exc}"
            return
        policy = self.config.fees
        if fees.max_fee > policy.max_fee:
            self._problems["priced out"] = (
                f"relay transaction {t.tx_hash} is {why}; a replacement needs {fees}, above "
                f"the relay's ceiling {gwei(policy.max_fee)} (--max-fee-gwei)")
            return
        old = t.tx_hash
        tx_hash, raw = self._sign(t.relay_nonce, [r.request for r in t.requests], fees)
        t.tx_id = self.store.replace_tx(t.tx_id, tx_hash, raw,
                                        note=f"replaced by {tx_hash}: {why}")
        t.tx_hash, t.raw, t.fees, t.last_broadcast = tx_hash, raw, fees, None
        self._problems.pop("priced out", None)
        log.info("relay transaction replaced", extra=fields(
            tx=tx_hash, replaced=old, relay_nonce=t.relay_nonce, fees=str(fees), why=why))
        try:
            self._broadcast(t)
        except TxRejected as exc:
            log.error("node refuses a replacement relay transaction", extra=fields(
                tx=t.tx_hash, relay_nonce=t.relay_nonce, error=str(exc)))

    def _rebroadcast(self) -> None:
        now = time.monotonic()
        for t in self.inflight:
            if t.last_broadcast is None or now - t.last_broadcast > self.config.rebroadcast_after:
                try:
                    self._broadcast(t)
                except TxRejected as exc:
                    kind = refusal_kind(str(exc))
                    if kind == "fees":
                        self._replace(t, f"refused by the node: {exc}")
                        continue
                    if kind == "funds":  # logged as the relay's problem, once
                        self._short_of_funds(t, str(exc))
                        continue
                    log.error("node refuses a pending relay transaction", extra=fields(
                        tx=t.tx_hash, relay_nonce=t.relay_nonce, error=str(exc)))

    def _broadcast(self, t: InFlight) -> None:
        try:
            self.ledger.rpc.call("eth_sendRawTransaction", ["0x" + t.raw.hex()])
        except RpcError as exc:
            if not any(b in exc.message.lower() for b in _BENIGN):
                raise TxRejected(exc.message) from exc
        finally:
            t.last_broadcast = time.monotonic()
        if t.first_broadcast is None:
            t.first_broadcast = t.last_broadcast
        if "funds" in self._problems or "refused" in self._problems:  # the node took one
            self._problems.pop("funds", None)
            self._problems.pop("refused", None)
            self._funds_pause = self.config.funds_retry[0]

    # ------------------------------------------------------------------ sending

    def _send_next(self) -> bool:
        if len(self.inflight) >= self.config.window:
            return False
        batch = self._pick()  # also fails requests whose deadline passed while they wait
        if not batch:
            self._problems.pop("fees", None)  # nothing waits for lower fees
            return False
        if time.monotonic() < self._hold_until:
            return False
        try:
            fees = self.fees.current()
        except FeesTooHigh as exc:
            self._problems["fees"] = f"{exc}; requests wait"
            return False
        self._problems.pop("fees", None)
        assert self._next_nonce is not None
        tx_hash, raw = self._sign(self._next_nonce, [r.request for r in batch], fees)
        tx_id = self.store.add_tx(self._next_nonce, tx_hash, raw, [r.id for r in batch])
        t = InFlight(tx_id, self._next_nonce, tx_hash, raw,
                     [replace(r, status="submitted", tx_id=tx_id) for r in batch], fees)
        self.inflight.append(t)
        self._next_nonce += 1
        self.status.next_nonce = self._next_nonce
        self.status.sent_txs += 1
        try:
            self._broadcast(t)
        except TxRejected as exc:  # the node will never take it: free its nonce
            self.inflight.remove(t)
            self._refused(t, str(exc))
            self._next_nonce = t.relay_nonce
            self.status.next_nonce = self._next_nonce
            return False
        log.debug("relay transaction sent", extra=fields(
            tx=tx_hash, relay_nonce=t.relay_nonce, requests=len(batch), fees=str(fees)))
        return True

    def _sign(self, nonce: int, requests: list[fw.ForwardRequest], fees: Fees
              ) -> tuple[str, bytes]:
        data = fw.encode_execute_batch(requests, self.relay.address)
        tx: dict[str, Any] = {
            "nonce": nonce, "to": self.ledger.forwarder, "value": 0, "data": data,
            "gas": fw.batch_gas_limit(requests, len(data)), **fees.tx_fields(),
            "chainId": self.ledger.deployment.chain_id}
        signed = self.relay.sign_transaction(tx)
        return signed.hash.to_0x_hex(), bytes(signed.raw_transaction)

    def _refused(self, t: InFlight, message: str) -> None:
        """The node refused a new transaction: record it (dropped, with the node's message)
        and put its requests back, waiting (the relay's funds) or counting an attempt."""
        reason = f"relay transaction refused by the node: {message}"
        kind = refusal_kind(message)
        if kind == "funds":
            self._short_of_funds(t, message)
            self._drop(t, [self.judge.again(r, f"{reason}; waiting for the relay's funds",
                                            count=False) for r in t.requests],
                       reason, quiet=True)
            return
        if kind == "fees":
            self.fees.forget()
            self._problems["refused"] = f"the node refuses the relay's {t.fees}: {message}"
            reason += "; retried with fresh fees"
        self._drop(t, [self.judge.again(r, reason) for r in t.requests], reason)

    def _short_of_funds(self, t: InFlight, message: str) -> None:
        """Pause new transactions (growing pauses) and say why, with the relay's balance."""
        gas = fw.batch_gas_limit([r.request for r in t.requests], 0)
        try:
            wei = int(self.ledger.rpc.call("eth_getBalance", [self.relay.address, "latest"]), 16)
            balance = f"{wei / 10**18:.6g} ETH"
        except RpcError:
            balance = "unknown"
        self._problems["funds"] = (
            f"relay {self.relay.address} is short of funds: balance {balance}, a transaction "
            f"of about {gas} gas at {t.fees} needs up to "
            f"{gas * t.fees.max_fee / 10**18:.6g} ETH (node: {message}); requests wait")
        self._hold_until = time.monotonic() + self._funds_pause
        self._funds_pause = min(self._funds_pause * 2, self.config.funds_retry[1])

    def _pick(self) -> list[StoredRequest]:
        """Queued requests in acceptance order, within the batch and gas limits. A request
        queued again after a failed attempt goes alone, so it cannot sink a batch twice."""
        now = time.time()
        batch: list[StoredRequest] = []
        expired: list[int] = []
        gas = 0
        for r in self.store.queued(self.config.max_batch):
            if r.request.deadline < now:
                expired.append(r.id)
                continue
            cost = r.request.gas * 64 // 63 + 60_000 + 40 * (len(r.request.data) + 500)
            if batch and (gas + cost > self._gas_cap - 100_000 or r.attempts > 0):
                break
            batch.append(r)
            gas += cost
            if r.attempts > 0:
                break
        if expired:
            self.store.fail(expired, "deadline passed while the request was queued")
            self.notify(expired)
            self.status.counters["failed"] = self.status.counters.get("failed", 0) + len(expired)
        return batch

    def _count(self, fates: list[Fate]) -> None:
        for f in fates:
            self.status.counters[f.status] = self.status.counters.get(f.status, 0) + 1
