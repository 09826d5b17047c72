"""What the queue asks the ledger: the forwarder's domain and nonces, which targets trust the
forwarder, simulations of forwarded calls, and the outcome of executed batches.

Everything goes through `Rpc` as raw JSON-RPC; revert data is decoded with the project's ABIs
(`ledger_contracts.decode_revert`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode

from ledger_contracts import (
    Deployment,
    LedgerRevert,
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

FORWARDER = "GridForwarder"
_REQUIRED_FORWARDER_ABI = ("nonces", "verify", "executeBatch", "eip712Domain")


@dataclass(frozen=True)
class Revert:
    """A decoded revert: `name(args)`, as `LedgerRevert` prints it."""

    name: str
    args: dict[str, Any]
    text: str

    @classmethod
    def of(cls, err: LedgerRevert) -> Revert:
        return cls(err.name, {k: _plain(v) for k, v in err.args_by_name.items()}, str(err))


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def decode_call_error(exc: RpcError, gas: int | None = None) -> Revert | None:
    """The revert inside an `eth_call` error, or None if the error is not a revert."""
    data = revert_data(exc)
    if data is None:
        text = exc.message.lower()
        if "out of gas" in text or "outofgas" in text:
            return Revert("OutOfGas", {"gas": gas}, f"OutOfGas(gas={gas})")
        return None
    if data in ("0x", ""):
        if gas is not None:
            return Revert("EmptyRevert", {"gas": gas},
                          f"EmptyRevert(gas={gas}) (no reason; out of gas or a bare revert)")
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
                raise ConfigError(f"the deployment is for chain {self.deployment.chain_id} "
                                 f"but the node is chain {chain_id}")
            names = [n for n in self.deployment.contracts if n != FORWARDER]
            calls: list[RpcCall] = [self.eth_call(self.forwarder, fw.SEL_EIP712_DOMAIN)]
            calls += [self.eth_call(self.deployment.address(n),
                                    fw.encode_is_trusted_forwarder(self.forwarder))
                      for n in names]
            answers = self.rpc.batch(calls)
            if isinstance(answers[0], Exception):
                raise ConfigError(f"the forwarder at {self.forwarder} has no eip712Domain(): "
                                 f"{answers[0]}")
            name, version, dom_chain, verifying = fw.decode_domain(_bytes(answers[0]))
            for contract, answer in zip(names, answers[1:], strict=True):
                address = to_checksum_address(self.deployment.address(contract))
                trusted = not isinstance(answer, Exception) and int.from_bytes(
                    _bytes(answer)[:32] or b"\0", "big") == 1
                (self.targets if trusted else self.untrusting)[address] = contract
            self.domain = fw.Domain(name, version, dom_chain, verifying)
            return self.domain

    # ------------------------------------------------------------------ calls

    @staticmethod
    def eth_call(to: str, data: bytes, *, sender: str | None = None, gas: int | None = None,
                 block: str | int = "latest") -> RpcCall:
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
        """The target call exactly as the forwarder makes it (from the forwarder, the signer
        appended to the data, the request's gas)."""
        return self.eth_call(request.to, request.forwarded_calldata, sender=self.forwarder,
                             gas=request.gas, block=block)

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
            if (to_checksum_address(log["address"]) == self.forwarder and topics
                    and topics[0] == fw.TOPIC_EXECUTED):
                signer, nonce, success = fw.decode_executed(topics, _bytes(log["data"]))
                out[(signer, nonce)] = success
        return out

    def failed_call_reasons(self, tx_hash: str, block: int,
                            failed: list[fw.ForwardRequest]) -> dict[bytes, Revert]:
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
                revert = decode_call_error(answer, request.gas) if isinstance(
                    answer, RpcError) else None
                reasons[request.request_hash] = revert or Revert(
                    "Unknown", {}, "reverted inside the batch; alone at the block before it "
                    "would have succeeded (it depended on an earlier request of the batch)")
        return reasons

    @staticmethod
    def _reasons_from_trace(trace: dict[str, Any],
                            failed: list[fw.ForwardRequest]) -> dict[bytes, Revert]:
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
                    "OutOfGas", {"gas": request.gas}, f"OutOfGas(gas={request.gas})")
            elif _ran_out_of_gas(call):  # a nested call did, and the revert passed on no data
                reasons[request.request_hash] = Revert(
                    "OutOfGas", {"gas": request.gas},
                    f"OutOfGas(gas={request.gas}) (in a nested call)")
            else:
                reasons[request.request_hash] = Revert(
                    "EmptyRevert", {}, f"EmptyRevert() ({call['error']})")
        return reasons


def _ran_out_of_gas(call: dict[str, Any]) -> bool:
    """Whether some call below `call` in a callTracer trace ran out of gas."""
    return any("gas" in str(sub.get("error", "")).lower() or _ran_out_of_gas(sub)
               for sub in call.get("calls") or [])


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
