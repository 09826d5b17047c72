"""Talking to a node: connect with a timeout, send locally signed transactions, decode reverts.

Every transaction is signed here with a local key; the node's unlocked accounts are never used.
A revert is raised as `LedgerRevert` carrying the decoded custom error, e.g.
``MarketBidExceedsCapacity(seller=2, load=41000, capacity=36000)``.
"""

from __future__ import annotations

import time
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractConstructor, ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    Web3RPCError,
)
from web3.types import TxReceipt

from .abi import decode_revert
from .errors import LedgerRevert, NodeUnavailable
from .sending import pad_gas

DEFAULT_RPC = "http://127.0.0.1:8545"
DEFAULT_TIMEOUT = 10.0  # seconds, for every RPC request


def connect(
    rpc_url: str = DEFAULT_RPC, *, timeout: float = DEFAULT_TIMEOUT, wait: float = 0.0
) -> Web3:
    """A Web3 for `rpc_url`; with `wait` > 0, retry until the node answers or `wait` s pass.

    Each request is one attempt within `timeout`: web3.py's own retries (five attempts by
    default) are off, or a silent node would cost five timeouts where one was configured."""
    w3 = Web3(
        Web3.HTTPProvider(
            rpc_url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
    )
    deadline = time.monotonic() + wait
    while True:
        try:
            w3.eth.chain_id  # noqa: B018  (a real round trip)
            return w3
        except Exception as exc:  # connection refused, timeout, bad answer
            if time.monotonic() >= deadline:
                raise NodeUnavailable(f"no Ethereum node answers at {rpc_url}: {exc}") from exc
            time.sleep(0.2)


def account(private_key: str) -> LocalAccount:
    return Account.from_key(private_key)


def revert_from_exception(exc: Exception) -> LedgerRevert | None:
    """The decoded revert inside a web3 exception, or None if `exc` is not a revert."""
    if isinstance(exc, ContractCustomError | ContractPanicError | ContractLogicError):
        data = exc.data if isinstance(exc.data, str) else None
        if data is None and isinstance(exc, ContractLogicError):
            return LedgerRevert("Error", {"message": str(exc.message or exc)})
        return decode_revert(data)
    if isinstance(exc, Web3RPCError) and exc.rpc_response:
        err: Any = exc.rpc_response.get("error") or {}
        data = err.get("data") if isinstance(err, dict) else None
        if isinstance(data, str) and data.startswith("0x"):
            return decode_revert(data)
    return None


def call(fn: ContractFunction, *, sender: str | None = None) -> Any:
    """`fn.call()` with reverts decoded into `LedgerRevert`."""
    try:
        return fn.call({"from": sender} if sender else None)
    except Exception as exc:
        revert = revert_from_exception(exc)
        if revert is None:
            raise
        raise revert from exc


def transact(
    w3: Web3,
    signer: LocalAccount,
    fn: ContractFunction | ContractConstructor,
    *,
    gas: int | None = None,
    nonce: int | None = None,
    wait: bool = True,
    timeout: float = 60.0,
) -> TxReceipt | HexBytes:
    """Sign `fn` with `signer`, send it, and (by default) wait for the receipt.

    The call is simulated first (gas estimate), so a revert is raised as `LedgerRevert`
    before anything is sent; a transaction that still reverts on chain raises too.
    """
    params: Any = {"from": signer.address, "chainId": w3.eth.chain_id}
    params["nonce"] = (
        nonce if nonce is not None else w3.eth.get_transaction_count(signer.address, "pending")
    )
    try:
        params["gas"] = gas if gas is not None else pad_gas(fn.estimate_gas(params))
        tx = fn.build_transaction(params)
    except Exception as exc:
        revert = revert_from_exception(exc)
        if revert is None:
            raise
        raise revert from exc
    signed = signer.sign_transaction(cast(Any, tx))
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    if not wait:
        return tx_hash
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.05)
    if receipt["status"] != 1:
        raise _replayed_revert(w3, cast(dict[str, Any], tx), receipt)
    return receipt


def _replayed_revert(w3: Web3, tx: dict[str, Any], receipt: TxReceipt) -> LedgerRevert:
    """Re-run a mined, reverted transaction as a call at its block to learn why."""
    try:
        w3.eth.call(
            {"from": tx["from"], "to": tx["to"], "data": tx["data"], "gas": tx["gas"]},
            receipt["blockNumber"] - 1,
        )
    except Exception as exc:
        revert = revert_from_exception(exc)
        if revert is not None:
            return revert
    return LedgerRevert("Reverted", {"tx": receipt["transactionHash"].hex()})
