"""What the submitter does when the node does not take or keep a relay transaction.

* Refused when sent (`_refused`): recorded (the transaction `dropped`, with the node's
  message) and its relay nonce reused. Refused for the relay's funds, its requests wait (not
  counting an attempt) and sending pauses, 1 s doubling to 15 s (`_short_of_funds`); refused
  for anything else, its requests are queued again counting an attempt (fees read afresh), so
  they fail with the reason after `max_attempts`.
* Pending and priced out of the pool (its max fee below the base fee), or refused for its fees
  when sent again (`_rebroadcast`): replaced (`_replace`), the same requests and relay nonce
  with fees at least 12.5% higher, within the ceiling.
* Its relay nonce used by another transaction (`_check_dropped`): dropped, its requests queued
  again.
* On Anvil with automine, waiting with nothing to trigger a block (`_nudge`): a block is mined.

Each sets or clears the relay's `Problems`, which `/health` shows.
"""

from __future__ import annotations

import contextlib
import time

from eth_account.signers.local import LocalAccount

from ledger_contracts import RpcError

from . import forward as fw
from .batches import InFlight, SubmitterConfig
from .fees import FeeOracle, Fees, FeesTooHigh, gwei, refusal_kind
from .ledger import Ledger
from .logs import fields, get_logger
from .outcomes import Judge
from .records import Fate
from .relay_status import Problems
from .store import Store

log = get_logger("submitter")


class TxRejected(Exception):
    pass


class Troubles:
    """The submitter's handling of the node's refusals and of lost transactions (a mixin of
    `Submitter`, which provides the attributes and the methods declared here)."""

    store: Store
    ledger: Ledger
    relay: LocalAccount
    config: SubmitterConfig
    judge: Judge
    fees: FeeOracle
    inflight: list[InFlight]
    _problems: Problems
    _hold_until: float
    _funds_pause: float
    _nonce_checked: float
    _suspect: tuple[str, float] | None
    _automine: bool

    def _broadcast(self, t: InFlight) -> None:
        raise NotImplementedError

    def _sign(self, nonce: int, requests: list[fw.ForwardRequest], fees: Fees) -> tuple[str, bytes]:
        raise NotImplementedError

    def _drop(self, t: InFlight, fates: list[Fate], reason: str, *, quiet: bool = False) -> None:
        raise NotImplementedError

    def _check_priced_out(self, t: InFlight) -> None:
        """The oldest transaction has no receipt: if the base fee rose above its max fee, no
        block can include it (and a node may have dropped it): replace it."""
        if (
            t.last_broadcast is None
            or self.config.fees.mode == "fixed"
            or time.monotonic() - t.created < self.config.reprice_after
        ):
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
        if (
            self._automine
            and t.first_broadcast is not None
            and time.monotonic() - t.first_broadcast > self.config.nudge_after
        ):
            self.ledger.rpc.call("evm_mine", [])
            t.first_broadcast = time.monotonic()
            log.debug(
                "mined a block for a waiting transaction (Anvil automine)",
                extra=fields(tx=t.tx_hash),
            )

    def _check_dropped(self, t: InFlight) -> None:
        """The oldest transaction has no receipt: if its relay nonce is used anyway, another
        transaction took it; queue its requests again."""
        now = time.monotonic()
        if now - self._nonce_checked < 1.0:
            return
        self._nonce_checked = now
        used = int(
            self.ledger.rpc.call("eth_getTransactionCount", [self.relay.address, "latest"]), 16
        )
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
                f"the relay's ceiling {gwei(policy.max_fee)} (--max-fee-gwei)"
            )
            return
        old = t.tx_hash
        tx_hash, raw = self._sign(t.relay_nonce, [r.request for r in t.requests], fees)
        t.tx_id = self.store.replace_tx(t.tx_id, tx_hash, raw, note=f"replaced by {tx_hash}: {why}")
        t.tx_hash, t.raw, t.fees, t.last_broadcast = tx_hash, raw, fees, None
        self._problems.pop("priced out", None)
        log.info(
            "relay transaction replaced",
            extra=fields(
                tx=tx_hash, replaced=old, relay_nonce=t.relay_nonce, fees=str(fees), why=why
            ),
        )
        try:
            self._broadcast(t)
        except TxRejected as exc:
            log.error(
                "node refuses a replacement relay transaction",
                extra=fields(tx=t.tx_hash, relay_nonce=t.relay_nonce, error=str(exc)),
            )

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
                    log.error(
                        "node refuses a pending relay transaction",
                        extra=fields(tx=t.tx_hash, relay_nonce=t.relay_nonce, error=str(exc)),
                    )

    def _refused(self, t: InFlight, message: str) -> None:
        """The node refused a new transaction: record it (dropped, with the node's message)
        and put its requests back, waiting (the relay's funds) or counting an attempt."""
        reason = f"relay transaction refused by the node: {message}"
        kind = refusal_kind(message)
        if kind == "funds":
            self._short_of_funds(t, message)
            self._drop(
                t,
                [
                    self.judge.again(r, f"{reason}; waiting for the relay's funds", count=False)
                    for r in t.requests
                ],
                reason,
                quiet=True,
            )
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
            f"{gas * t.fees.max_fee / 10**18:.6g} ETH (node: {message}); requests wait"
        )
        self._hold_until = time.monotonic() + self._funds_pause
        self._funds_pause = min(self._funds_pause * 2, self.config.funds_retry[1])
