"""What became of each request of a mined relay transaction.

The forwarder's `ExecutedForwardRequest(signer, nonce, success)` events are the ground truth:

* event with success: `mined`;
* event without success: `reverted`, with the decoded custom error of the forwarded call;
* no event: `executeBatch` (with a refund receiver) silently skips a request that does not
  validate at execution time. The signer's forwarder nonce at that block says why:
  - already past the request's nonce: something else executed (or cancelled) it; its event
    is looked up so the record says what happened and where;
  - deadline passed: `failed`;
  - below the request's nonce: an earlier request of the signer has not executed; if that one
    is coming again the request is queued again, else it can never execute: `failed`;
  - otherwise queued again (bounded by the attempt limit).

A relay transaction that reverted as a whole executed nothing: its requests are queued again,
each failure counting towards the request's attempt limit.
"""

from __future__ import annotations

from typing import Any

from ledger_contracts import RpcCall

from . import forward as fw
from .ledger import Ledger, as_bytes, decode_uint
from .records import Fate, Revert, StoredRequest
from .store import Store


class Judge:
    def __init__(self, ledger: Ledger, store: Store, *, max_attempts: int) -> None:
        self.ledger = ledger
        self.store = store
        self.max_attempts = max_attempts

    def mined(
        self, tx_hash: str, receipt: dict[str, Any], requests: list[StoredRequest]
    ) -> list[Fate]:
        block = int(receipt["blockNumber"], 16)
        if int(receipt["status"], 16) != 1:
            gas = int(receipt["gasUsed"], 16)
            return [
                self.again(r, f"relay transaction {tx_hash} reverted (gas used {gas})")
                for r in requests
            ]
        events = self.ledger.executed_events(receipt)
        fates: list[Fate] = []
        failed = [r for r in requests if events.get((r.request.sender, r.nonce)) is False]
        reasons = (
            self.ledger.failed_call_reasons(tx_hash, block, [r.request for r in failed])
            if failed
            else {}
        )
        skipped: list[StoredRequest] = []
        for r in requests:
            success = events.get((r.request.sender, r.nonce))
            if success is True:
                fates.append(Fate(r.id, "mined"))
            elif success is False:
                fates.append(Fate(r.id, "reverted", error=reasons[r.request.request_hash]))
            else:
                skipped.append(r)
        if skipped:
            fates += self._skipped(skipped, block)
        return fates

    def again(self, r: StoredRequest, reason: str, *, count: bool = True) -> Fate:
        """Queue `r` again, or fail it once it has used up its attempts."""
        if count and r.attempts + 1 >= self.max_attempts:
            return Fate(r.id, "failed", reason=f"{reason}; gave up after {r.attempts + 1} attempts")
        return Fate(r.id, "queued", reason=reason, count_attempt=count)

    def _skipped(self, skipped: list[StoredRequest], block: int) -> list[Fate]:
        calls: list[RpcCall] = [("eth_getBlockByNumber", [hex(block), False])]
        calls += [self.ledger.nonce_call(r.request.sender, block) for r in skipped]
        answers = self.ledger.rpc.batch(calls)
        if isinstance(answers[0], Exception):
            raise answers[0]
        block_time = int(answers[0]["timestamp"], 16)
        coming_again: set[tuple[str, int]] = set()
        fates: list[Fate] = []
        for r, answer in zip(skipped, answers[1:], strict=True):
            if isinstance(answer, Exception):
                raise answer
            chain_nonce = decode_uint(answer)
            signer = r.request.sender
            if chain_nonce > r.nonce:
                fates.append(self._executed_elsewhere(r))
            elif r.request.deadline < block_time:
                fates.append(
                    Fate(
                        r.id,
                        "failed",
                        reason=f"deadline {r.request.deadline} passed "
                        f"before the request could execute (block time {block_time})",
                    )
                )
            elif chain_nonce < r.nonce:
                earlier = self.store.live_by_nonce(signer, chain_nonce)
                if (signer, chain_nonce) in coming_again or (
                    earlier is not None and earlier.tx_id != r.tx_id
                ):
                    fates.append(
                        self.again(r, f"waits for nonce {chain_nonce} of {signer}", count=False)
                    )
                    coming_again.add((signer, r.nonce))
                else:
                    fates.append(
                        Fate(
                            r.id,
                            "failed",
                            reason=(
                                f"nonce gap: the signer's request with nonce {chain_nonce} did not "
                                "execute, so this one cannot"
                            ),
                        )
                    )
            else:
                fate = self.again(
                    r, "the forwarder skipped the request (it did not validate at execution time)"
                )
                if fate.status == "queued":
                    coming_again.add((signer, r.nonce))
                fates.append(fate)
        return fates

    def _executed_elsewhere(self, r: StoredRequest) -> Fate:
        """The signer's nonce was used by another transaction: find that execution."""
        signer = r.request.sender
        logs = self.ledger.rpc.call(
            "eth_getLogs",
            [
                {
                    "address": self.ledger.forwarder,
                    "topics": [
                        "0x" + fw.TOPIC_EXECUTED.hex(),
                        "0x" + "00" * 12 + signer[2:].lower(),
                    ],
                    "fromBlock": hex(self.ledger.deployment.block),
                    "toBlock": "latest",
                }
            ],
        )
        for log in logs or []:
            topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
            _signer, nonce, success = fw.decode_executed(topics, as_bytes(log["data"]))
            if nonce != r.nonce:
                continue
            tx_hash, block = log["transactionHash"], int(log["blockNumber"], 16)
            if not self._carries(tx_hash, r.request):
                return Fate(
                    r.id,
                    "failed",
                    reason=(
                        f"nonce {r.nonce} of {signer} was used by another request "
                        f"(transaction {tx_hash})"
                    ),
                )
            if success:
                return Fate(
                    r.id,
                    "mined",
                    executed_tx=tx_hash,
                    block_number=block,
                    reason=f"executed by transaction {tx_hash}",
                )
            revert = self._why(r.request, tx_hash, block)
            return Fate(
                r.id,
                "reverted",
                error=revert,
                executed_tx=tx_hash,
                block_number=block,
                reason=f"executed by transaction {tx_hash}",
            )
        return Fate(
            r.id,
            "failed",
            reason=f"nonce {r.nonce} of {signer} was used without an "
            "execution event (cancelled outside this relay, or "
            "executed by a transaction the node has lost)",
        )

    def _carries(self, tx_hash: str, request: fw.ForwardRequest) -> bool:
        """Whether the forwarder call of `tx_hash` carried this very request (same
        signature), not just another request with the same nonce. A call made through some
        other contract cannot be decoded: then the nonce's use is taken as this request's."""
        tx = self.ledger.rpc.call("eth_getTransactionByHash", [tx_hash])
        carried = fw.requests_in_call(as_bytes((tx or {}).get("input")))
        if not carried:
            return True
        return any(c.signature == request.signature and c.sender == request.sender for c in carried)

    def _why(self, request: fw.ForwardRequest, tx_hash: str, block: int) -> Revert:
        return self.ledger.failed_call_reasons(tx_hash, block, [request])[request.request_hash]
