"""ABI plumbing every caller shares: a parameter's canonical type, a function's or error's
selector, and revert data decoded into the project's custom errors.

    decode_revert("0x...")   # LedgerRevert: MarketBidExceedsCapacity(seller=2, load=..., ...)

The error table covers every project contract whose build output exists, so whoever decodes
(the chain helpers, the queue, the prosumer client) names every error the same way. Only
eth_abi and eth_utils: no web3 import, for the services' hot paths and the CLI's start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from .artifacts import available_contracts, load_artifact
from .errors import LedgerRevert

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)


def abi_type(param: Mapping[str, Any]) -> str:
    """The canonical type of an ABI parameter: tuples spelled out, e.g. `(uint256,address)[]`."""
    if param["type"].startswith("tuple"):
        inner = ",".join(abi_type(c) for c in param["components"])
        return f"({inner}){param['type'][5:]}"
    return str(param["type"])


def signature(entry: Mapping[str, Any]) -> str:
    """`name(type,...)` of a function, error or event ABI entry."""
    return f"{entry['name']}({','.join(abi_type(i) for i in entry['inputs'])})"


def selector(entry: Mapping[str, Any]) -> bytes:
    """The 4-byte selector of a function or error ABI entry."""
    return keccak(text=signature(entry))[:4]


@cache
def error_table() -> dict[bytes, dict[str, Any]]:
    """Selector -> error ABI entry, over every project contract."""
    table: dict[bytes, dict[str, Any]] = {}
    for name in available_contracts():
        for entry in load_artifact(name).abi:
            if entry.get("type") == "error":
                table[selector(entry)] = entry
    return table


def decode_revert(data: bytes | str | None) -> LedgerRevert:
    """Turn revert data into a `LedgerRevert` named after the custom error it carries
    (`Error`/`Panic` for the built-in ones, `UnknownError` for anything else)."""
    raw = _bytes(data)
    head, body = raw[:4], raw[4:]
    try:
        if head == ERROR_SELECTOR:
            return LedgerRevert("Error", {"message": abi_decode(["string"], body)[0]}, raw.hex())
        if head == PANIC_SELECTOR:
            return LedgerRevert("Panic", {"code": hex(abi_decode(["uint256"], body)[0])}, raw.hex())
        entry = error_table().get(head)
        if entry is not None:
            types = [abi_type(i) for i in entry["inputs"]]
            values = abi_decode(types, body) if types else ()
            values = tuple(
                to_checksum_address(v) if t == "address" else v
                for t, v in zip(types, values, strict=True)
            )
            names = [i["name"] or f"arg{k}" for k, i in enumerate(entry["inputs"])]
            return LedgerRevert(entry["name"], dict(zip(names, values, strict=True)), raw.hex())
    except Exception:  # malformed data under a known selector: report it as unknown
        pass
    return LedgerRevert("UnknownError", {"data": "0x" + raw.hex()}, raw.hex())


def _bytes(data: bytes | str | None) -> bytes:
    if not data:
        return b""
    if isinstance(data, str):
        return bytes.fromhex(data[2:] if data.startswith(("0x", "0X")) else data)
    return bytes(data)
