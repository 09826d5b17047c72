"""What the queue asks the ledger: the forwarder's domain and nonces, which targets trust the
forwarder, simulations of forwarded calls, and the outcome of executed batches.

Everything goes through `Rpc` as raw JSON-RPC; revert data is decoded with the project's ABIs
(`ledger_contracts.decode_revert`).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from eth_abi import decode as abi_decode

from ledger_contracts import (
    Deployment,
    Rpc,
    RpcCall,
    RpcError,
    decode_revert,
    load_artifact,
    revert_data,
)

from . import forward as fw
from .errors import ConfigError
from .forward import to_checksum_address
from .records import Revert

FORWARDER = "GridForwarder"
_REQUIRED_FORWARDER_ABI = ("nonces", "verify", "executeBatch", "eip712Domain")

# Simulations run this code in place of the forwarder's (an `eth_call` state override), so the
# target sees the forwarder as its caller and gets exactly the request's gas, as in
# `executeBatch`. Input: gas (word), target (word), the forwarded calldata. It returns or
# reverts with what the target returned; a call that used all its gas reverts with
# `OUT_OF_GAS`. Assembled from:
#   len = calldatasize - 64; calldatacopy(0, 64, len); before = gas()
#   ok = call(calldataload(0), calldataload(32), 0, 0, len, 0, 0)
#   used = before - gas(); if ok: return(returndata)
#   if calldataload(0) > used: revert(returndata) else: revert("OOG!")
SIMULATOR_CODE = bytes.fromhex(
    "604036038060406000375a600060008360006000602035600035f1905a90036000351181604557603a57"
    "634f4f472160e01b60005260046000fd5b3d600060003e3d6000fd5b3d600060003e3d6000f3"
)
OUT_OF_GAS = b"OOG!"
_IDENTITY = "0x0000000000000000000000000000000000000004"  # the identity precompile


def decode_call_error(exc: RpcError, gas: int | None = None) -> Revert | None:
    """The revert inside an `eth_call` error, or None if the error is not a revert."""
    data = revert_data(exc)
    if data is None:
        text = exc.message.lower()
        if "out of gas" in text or "outofgas" in text or "oog" in text:
            return Revert("OutOfGas", {"gas": gas}, f"OutOfGas(gas={gas})")
        return None
    if data == "0x" + OUT_OF_GAS.hex():
        return Revert("OutOfGas", {"gas": gas}, f"OutOfGas(gas={gas})")
    if data in ("0x", ""):
        if gas is not None:
            return Revert(
                "EmptyRevert",
                {"gas": gas},
                f"EmptyRevert(gas={gas}) (no reason; out of gas or a bare revert)",
            )
        return Revert("EmptyRevert", {}, "EmptyRevert() (no reason given)")
    return Revert.of(decode_revert(data))


class Ledger:
    """The queue's view of one deployment. Chain facts are loaded on first use, so a queue can
    start while its node is down (`ensure_ready` raises `NodeUnavailable` until the node
    answers)."""

    def __init__(self, rpc: Rpc, deployment: Deployment) -> None:
        self.rpc = rpc
        self.deployment = deployment
        self.forwarder = to_checksum_address(deployment.address(FORWARDER))
        abi_names = {e.get("name") for e in load_artifact(FORWARDER).abi}
        missing = [n for n in _REQUIRED_FORWARDER_ABI if n not in abi_names]
        if missing:
            raise ConfigError(f"{FORWARDER} has no {', '.join(missing)}: not an ERC2771Forwarder")
        self.domain: fw.Domain | None = None
        self.targets: dict[str, str] = {}  # checksum address -> contract name (trusts forwarder)
        self.untrusting: dict[str, str] = {}  # project contracts that do not trust it
        self._lock = threading.Lock()
        self._block_time = (0.0, 0)  # (fetched at, latest block timestamp)
        self.exact_simulation = False  # the node takes state overrides (`SIMULATOR_CODE`)

    # ------------------------------------------------------------------ set-up

    def ensure_ready(self) -> fw.Domain:
        """Load the chain id, the forwarder's domain and the trusted targets (once)."""
        if self.domain is not None:
            return self.domain
        with self._lock:
            if self.domain is not None:
                return self.domain
            chain_id = int(self.rpc.call("eth_chainId", []), 16)
            if chain_id != self.deployment.chain_id:
                raise ConfigError(
                    f"the deployment is for chain {self.deployment.chain_id} "
                    f"but the node is chain {chain_id}"
                )
            names = [n for n in self.deployment.contracts if n != FORWARDER]
            calls: list[RpcCall] = [self.eth_call(self.forwarder, fw.SEL_EIP712_DOMAIN)]
            calls += [
                self.eth_call(
                    self.deployment.address(n), fw.encode_is_trusted_forwarder(self.forwarder)
                )
                for n in names
            ]
            answers = self.rpc.batch(calls)
            if isinstance(answers[0], Exception):
                raise ConfigError(
                    f"the forwarder at {self.forwarder} has no eip712Domain(): {answers[0]}"
                )
            name, version, dom_chain, verifying = fw.decode_domain(_bytes(answers[0]))
            for contract, answer in zip(names, answers[1:], strict=True):
                address = to_checksum_address(self.deployment.address(contract))
                trusted = (
                    not isinstance(answer, Exception)
                    and int.from_bytes(_bytes(answer)[:32] or b"\0", "big") == 1
                )
                (self.targets if trusted else self.untrusting)[address] = contract
            self.exact_simulation = self._takes_overrides()
            self.domain = fw.Domain(name, version, dom_chain, verifying)
            return self.domain

    def _takes_overrides(self) -> bool:
        """Whether the node runs `SIMULATOR_CODE` in place of the forwarder's (a call to the
        identity precompile through it must echo its input)."""
        try:
            echoed = self.rpc.call(*self._simulator_call(_IDENTITY, b"\x2a", 1_000, "latest"))
        except RpcError:
            return False
        return echoed == "0x2a"

    # ------------------------------------------------------------------ calls

    @staticmethod
    def eth_call(
        to: str,
        data: bytes,
        *,
        sender: str | None = None,
        gas: int | None = None,
        block: str | int = "latest",
    ) -> RpcCall:
        tx: dict[str, Any] = {"to": to, "data": "0x" + data.hex()}
        if sender is not None:
            tx["from"] = sender
        if gas is not None:
            tx["gas"] = hex(gas)
        return ("eth_call", [tx, block if isinstance(block, str) else hex(block)])

    def nonce_call(self, account: str, block: str | int = "latest") -> RpcCall:
        return self.eth_call(self.forwarder, fw.encode_nonces(account), block=block)

    def verify_call(self, request: fw.ForwardRequest) -> RpcCall:
        return self.eth_call(self.forwarder, fw.encode_verify(request))

    def simulate_call(self, request: fw.ForwardRequest, block: str | int = "latest") -> RpcCall:
        """The target call as the forwarder makes it (from the forwarder, the signer appended
        to the data), with the request's gas for its execution: an `eth_call`'s gas limit
        also pays the transaction's base cost, which the forwarder's call does not."""
        data = request.forwarded_calldata
        if self.exact_simulation:
            return self._simulator_call(request.to, data, request.gas, block)
        # Without overrides, a plain call from the forwarder: exact but where the data's
        # floor (below) gives it more gas than the request's.
        return self.eth_call(
            request.to,
            data,
            sender=self.forwarder,
            gas=call_gas_limit(request.gas, data),
            block=block,
        )

    def _simulator_call(self, target: str, data: bytes, gas: int, block: str | int) -> RpcCall:
        """`target` called with `data` and exactly `gas`, from the forwarder's address, through
        `SIMULATOR_CODE` (the simulator's own work, its memory included, paid on top)."""
        words = (len(data) + 31) // 32
        own = 30_000 + 6 * words + words * words // 512
        payload = gas.to_bytes(32, "big") + bytes(12) + bytes.fromhex(target[2:]) + data
        call = self.eth_call(
            self.forwarder, payload, gas=call_gas_limit(gas * 64 // 63 + own, payload), block=block
        )
        return (call[0], [*call[1], {self.forwarder: {"code": "0x" + SIMULATOR_CODE.hex()}}])

    @staticmethod
    def ecrecover_call(digest: bytes, signature: bytes) -> RpcCall:
        return Ledger.eth_call(fw.ECRECOVER, fw.ecrecover_input(digest, signature))

    def nonce(self, account: str, block: str | int = "latest") -> int:
        return decode_uint(self.rpc.call(*self.nonce_call(account, block)))

    def chain_time(self) -> int:
        """The latest block's timestamp (cached for a second)."""
        fetched, stamp = self._block_time
        if time.monotonic() - fetched > 1.0:
            block = self.rpc.call("eth_getBlockByNumber", ["latest", False])
            stamp = int(block["timestamp"], 16)
            self._block_time = (time.monotonic(), stamp)
        return stamp

    # ------------------------------------------------------------------ outcomes

    def executed_events(self, receipt: dict[str, Any]) -> dict[tuple[str, int], bool]:
        """(signer, nonce) -> success, from a receipt's `ExecutedForwardRequest` logs."""
        out: dict[tuple[str, int], bool] = {}
        for log in receipt.get("logs") or []:
            topics = [bytes.fromhex(t[2:]) for t in log.get("topics") or []]
            if (
                to_checksum_address(log["address"]) == self.forwarder
                and topics
                and topics[0] == fw.TOPIC_EXECUTED
            ):
                signer, nonce, success = fw.decode_executed(topics, _bytes(log["data"]))
                out[(signer, nonce)] = success
        return out

    def failed_call_reasons(
        self, tx_hash: str, block: int, failed: list[fw.ForwardRequest]
    ) -> dict[bytes, Revert]:
        """Why each of `failed` (requests of one mined batch whose call failed) reverted.

        The batch's call trace gives each forwarded call's exact revert data, in the state the
        earlier requests of the batch left. Without `debug_traceTransaction`, each request is
        re-simulated at the block before, which misses effects of earlier requests in the batch.
        """
        reasons: dict[bytes, Revert] = {}
        try:
            trace = self.rpc.call("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])
            reasons = self._reasons_from_trace(trace, failed)
        except RpcError:
            pass
        missing = [r for r in failed if r.request_hash not in reasons]
        if missing:
            answers = self.rpc.batch([self.simulate_call(r, block - 1) for r in missing])
            for request, answer in zip(missing, answers, strict=True):
                revert = (
                    decode_call_error(answer, request.gas) if isinstance(answer, RpcError) else None
                )
                reasons[request.request_hash] = revert or Revert(
                    "Unknown",
                    {},
                    "reverted inside the batch; alone at the block before it "
                    "would have succeeded (it depended on an earlier request of the batch)",
                )
        return reasons

    @staticmethod
    def _reasons_from_trace(
        trace: dict[str, Any], failed: list[fw.ForwardRequest]
    ) -> dict[bytes, Revert]:
        wanted = {(r.to.lower(), "0x" + r.forwarded_calldata.hex()): r for r in failed}
        reasons: dict[bytes, Revert] = {}
        for call in trace.get("calls") or []:
            if call.get("type") != "CALL":
                continue
            key = (str(call.get("to", "")).lower(), str(call.get("input", "")).lower())
            request = wanted.get(key)
            if request is None or not call.get("error"):
                continue
            output = call.get("output")
            if output and output != "0x":
                reasons[request.request_hash] = Revert.of(decode_revert(output))
            elif "gas" in str(call["error"]).lower():
                reasons[request.request_hash] = Revert(
                    "OutOfGas", {"gas": request.gas}, f"OutOfGas(gas={request.gas})"
                )
            elif _ran_out_of_gas(call):  # a nested call did, and the revert passed on no data
                reasons[request.request_hash] = Revert(
                    "OutOfGas",
                    {"gas": request.gas},
                    f"OutOfGas(gas={request.gas}) (in a nested call)",
                )
            else:
                reasons[request.request_hash] = Revert(
                    "EmptyRevert", {}, f"EmptyRevert() ({call['error']})"
                )
        return reasons


def call_gas_limit(execution_gas: int, data: bytes) -> int:
    """The gas limit of an `eth_call` that leaves `execution_gas` for its execution: the base
    cost (21,000 and 4/16 gas per zero/non-zero byte of data) on top. Since Prague (EIP-7623)
    a limit must also reach the data's floor (10 gas per token, a non-zero byte counting 4):
    for much data and little gas that leaves the call more than `execution_gas`."""
    zeros = data.count(0)
    nonzero = len(data) - zeros
    base = 21_000 + 4 * zeros + 16 * nonzero
    floor = 21_000 + 10 * (zeros + 4 * nonzero)
    return max(base + execution_gas, floor)


def _ran_out_of_gas(call: dict[str, Any]) -> bool:
    """Whether some call below `call` in a callTracer trace ran out of gas."""
    return any(
        "gas" in str(sub.get("error", "")).lower() or _ran_out_of_gas(sub)
        for sub in call.get("calls") or []
    )


def _bytes(hexstr: Any) -> bytes:
    if not isinstance(hexstr, str):
        return b""
    return bytes.fromhex(hexstr[2:] if hexstr.startswith("0x") else hexstr)


def decode_uint(hexstr: Any) -> int:
    raw = _bytes(hexstr)
    return int(abi_decode(["uint256"], raw)[0]) if len(raw) >= 32 else 0


def decode_address(hexstr: Any) -> str | None:
    raw = _bytes(hexstr)
    if len(raw) < 32 or raw[:12] != b"\0" * 12 or raw[12:32] == b"\0" * 20:
        return None
    return to_checksum_address(raw[12:32])


def as_bytes(hexstr: Any) -> bytes:
    return _bytes(hexstr)
