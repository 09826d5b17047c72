"""Where private keys come from: a file or an environment variable, never the command line."""

from __future__ import annotations

import os
from pathlib import Path

from web3 import Web3

from .anvil import dev_keys
from .errors import LedgerError

ANVIL_CHAIN_ID = 31337


def read_key_file(path: str | Path) -> str:
    p = Path(path)
    if not p.is_file():
        raise LedgerError(f"key file {p} not found")
    key = p.read_text().strip()
    if not key.startswith("0x"):
        key = "0x" + key
    if len(key) != 66:
        raise LedgerError(f"key file {p} does not hold a 32-byte hex private key")
    return key


def load_key(key_file: str | None, *, env: str, w3: Web3 | None = None, dev_index: int = 0) -> str:
    """The key in `key_file`, else in the environment variable `env`, else — only on a local
    Anvil chain (chain id 31337) — Anvil's dev key number `dev_index`."""
    if key_file:
        return read_key_file(key_file)
    value = os.environ.get(env)
    if value:
        return value if value.startswith("0x") else "0x" + value
    if w3 is not None and w3.eth.chain_id == ANVIL_CHAIN_ID:
        return dev_keys(dev_index + 1)[dev_index]
    raise LedgerError(f"no key: pass --key-file or set {env}")
