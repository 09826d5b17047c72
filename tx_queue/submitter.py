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
price). What happens when the node refuses or loses a transaction is in `troubles`; while the
relay is short of funds, above its fee ceiling or has a transaction waiting over
`stuck_after`, `status.problem` says so (`/health` is degraded; `relay_status`). Requests are
taken role holders' first (`Store.queued`), each signer's in nonce order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from eth_account.signers.local import LocalAccount

from ledger_contracts import NodeUnavailable, RpcError

from . import forward as fw
from .batches import BENIGN, InFlight, SubmitterConfig, sign_batch, take_batch
from .fees import FeeOracle, Fees, FeesTooHigh, fees_of
from .ledger import Ledger
from .logs import RateLimited, fields, get_logger
from .outcomes import Judge
from .records import FINAL, Fate, StoredRequest
from .relay_status import Problems, Status
from .store import Store
from .troubles import Troubles, TxRejected

log = get_logger("submitter")


class Submitter(Troubles):
    def __init__(
        self,
        store: Store,
        ledger: Ledger,
        relay: LocalAccount,
        config: SubmitterConfig,
        notify: Callable[[list[int]], None] = lambda ids: None,
    ) -> None:
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
        self._problems = Problems()  # kind ("funds", "fees", "stuck") -> text
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
        pending_nonce = int(
            self.ledger.rpc.call("eth_getTransactionCount", [self.relay.address, "pending"]), 16
        )
        try:  # Anvil mines on arrival only: a transaction that arrives while it mines can wait
            self._automine = self.ledger.rpc.call("anvil_getAutomine", []) is True
        except RpcError:
            self._automine = False
        self.inflight = [
            InFlight(
                t.id,
                t.relay_nonce,
                t.tx_hash,
                t.raw,
                [r for i in t.request_ids if (r := self.store.get(i)) is not None],
                fees_of(t.raw),
            )
            for t in self.store.pending_txs()
        ]
        last = self.inflight[-1].relay_nonce + 1 if self.inflight else 0
        self._next_nonce = max(pending_nonce, last)
        self.status.next_nonce = self._next_nonce
        if self.inflight:
            log.info(
                "resuming pending relay transactions",
                extra=fields(txs=len(self.inflight), nonces=[t.relay_nonce for t in self.inflight]),
            )

    # ------------------------------------------------------------------ one step

    def _step(self) -> bool:
        busy = self._collect()
        self._rebroadcast()
        busy = self._send_next() or busy
        self._report()
        return busy

    def _report(self) -> None:
        """Set `status.problem` from what stops relaying now (see `Problems`)."""
        oldest = self.inflight[0] if self.inflight else None
        waited = time.monotonic() - oldest.created if oldest else 0.0
        if oldest is not None and waited > self.config.stuck_after:
            self._problems["stuck"] = (
                f"relay transaction {oldest.tx_hash} (relay nonce {oldest.relay_nonce}, "
                f"{oldest.fees}) has waited {waited:.0f} s for a receipt"
            )
        else:
            self._problems.pop("stuck", None)
        self.status.problem = self._problems.report()

    def _collect(self) -> bool:
        now = time.monotonic()
        if not self.inflight or now - self._polled < self.config.poll_interval:
            return False  # receipts are polled at most every poll_interval
        self._polled = now
        receipts = self.ledger.rpc.batch(
            [("eth_getTransactionReceipt", [t.tx_hash]) for t in self.inflight]
        )
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

    def _finish(self, t: InFlight, receipt: dict[str, Any]) -> None:
        fates = self.judge.mined(t.tx_hash, receipt, t.requests)
        status = "mined" if int(receipt["status"], 16) == 1 else "reverted"
        self.store.finish_tx(
            t.tx_id,
            status,
            fates,
            block_number=int(receipt["blockNumber"], 16),
            gas_used=int(receipt["gasUsed"], 16),
        )
        self._count(fates)
        log.info(
            "relay transaction mined",
            extra=fields(
                tx=t.tx_hash,
                relay_nonce=t.relay_nonce,
                status=status,
                requests=len(t.requests),
                outcomes={s: sum(f.status == s for f in fates) for s in {f.status for f in fates}},
            ),
        )
        self.notify([f.request_id for f in fates if f.status in FINAL])

    def _drop(self, t: InFlight, fates: list[Fate], reason: str, *, quiet: bool = False) -> None:
        self.store.finish_tx(t.tx_id, "dropped", fates, note=reason)
        self._count(fates)
        (log.debug if quiet else log.warning)(
            "relay transaction dropped",
            extra=fields(tx=t.tx_hash, relay_nonce=t.relay_nonce, reason=reason),
        )
        self.notify([f.request_id for f in fates if f.status in FINAL])

    def _broadcast(self, t: InFlight) -> None:
        try:
            self.ledger.rpc.call("eth_sendRawTransaction", ["0x" + t.raw.hex()])
        except RpcError as exc:
            if not any(b in exc.message.lower() for b in BENIGN):
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
        t = InFlight(
            tx_id,
            self._next_nonce,
            tx_hash,
            raw,
            [replace(r, status="submitted", tx_id=tx_id) for r in batch],
            fees,
        )
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
        log.debug(
            "relay transaction sent",
            extra=fields(
                tx=tx_hash, relay_nonce=t.relay_nonce, requests=len(batch), fees=str(fees)
            ),
        )
        return True

    def _sign(self, nonce: int, requests: list[fw.ForwardRequest], fees: Fees) -> tuple[str, bytes]:
        return sign_batch(self.relay, self.ledger, nonce, requests, fees)

    def _pick(self) -> list[StoredRequest]:
        """The next batch (`take_batch`); requests whose deadline passed while they waited
        are failed on the way."""
        batch, expired = take_batch(
            self.store.queued(self.config.max_batch), self._gas_cap, time.time()
        )
        if expired:
            self.store.fail(expired, "deadline passed while the request was queued")
            self.notify(expired)
            self.status.counters["failed"] = self.status.counters.get("failed", 0) + len(expired)
        return batch

    def _count(self, fates: list[Fate]) -> None:
        for f in fates:
            self.status.counters[f.status] = self.status.counters.get(f.status, 0) + 1
