"""Where private keys come from: a file or an environment variable, never the command line.

Every key that enters the project passes `parse_key`: 64 hex digits (a leading "0x" optional),
above 0 and below the order of the secp256k1 curve. A bad key is a `LedgerError` naming its
source (the file or the environment variable) and the problem, never the key itself.

A key file holds either the hex key or a standard Ethereum keystore (the version 3 JSON that
geth, clef and `Account.encrypt` write). A keystore's password comes from the environment
variable GRIDGAME_KEYSTORE_PASSWORD or, on a terminal, a prompt; `create_keystore` writes a new
key as a keystore (mode 0600, never over an existing file).
"""

from __future__ import annotations

import getpass
import json
import os
import string
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import LedgerError

if TYPE_CHECKING:
    from web3 import Web3

ANVIL_CHAIN_ID = 31337
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
KEYSTORE_PASSWORD_ENV = "GRIDGAME_KEYSTORE_PASSWORD"
MAX_KEY_FILE_BYTES = 64 * 1024  # a keystore is under 1 KiB
_HEX = frozenset(string.hexdigits)


def parse_key(text: str, source: str) -> str:
    """`text` as a private key, "0x" + 64 lower-case hex digits; else `LedgerError` naming
    `source` (e.g. "key file alice.key", "PROSUMER_KEY") and the problem."""
    value = text.strip()
    digits = value[2:] if value[:2] in ("0x", "0X") else value
    malformed = f"{source} does not hold a 32-byte hex private key"
    if not digits:
        raise LedgerError(f"{malformed}: it is empty")
    if not _HEX.issuperset(digits):
        raise LedgerError(f"{malformed}: not hex digits (expected 64, 0x optional)")
    if len(digits) != 64:
        raise LedgerError(f"{malformed}: {len(digits)} hex digits, not 64")
    number = int(digits, 16)
    if number == 0:
        raise LedgerError(f"{source} holds the zero key, which is not a valid private key")
    if number >= SECP256K1_ORDER:
        raise LedgerError(
            f"{source} holds a number at or above the secp256k1 curve order, "
            "which is not a valid private key"
        )
    return "0x" + digits.lower()


def read_key_file(path: str | Path) -> str:
    """The private key in `path`: the hex key, or a keystore decrypted with its password
    (`keystore_password`)."""
    p = Path(path)
    text = _read(p)
    if text.lstrip().startswith("{"):
        keystore = _keystore(p, text)
        return _decrypt(p, keystore, keystore_password(p))
    return parse_key(text, f"key file {p}")


def key_file_address(path: str | Path) -> str:
    """The address of the key in `path`: a keystore's recorded address (no password needed),
    else the address of the key itself."""
    from eth_account import Account
    from eth_utils import is_address, to_checksum_address

    p = Path(path)
    text = _read(p)
    if text.lstrip().startswith("{"):
        recorded = _keystore(p, text).get("address")
        if isinstance(recorded, str) and is_address(recorded):
            return str(to_checksum_address(recorded))
    return str(Account.from_key(read_key_file(p)).address)


def load_key(
    key_file: str | Path | None,
    *,
    env: str,
    w3: Web3 | Callable[[], Web3] | None = None,
    dev_index: int = 0,
) -> str:
    """The key in `key_file`, else in the environment variable `env`, else — only on a local
    Anvil chain (chain id 31337) — Anvil's dev key number `dev_index`. `w3` may be a function
    that connects, called only when neither a file nor `env` gives the key."""
    if key_file:
        return read_key_file(key_file)
    value = os.environ.get(env)
    if value:
        return parse_key(value, f"environment variable {env}")
    if w3 is not None:
        node = w3() if callable(w3) else w3
        if node.eth.chain_id == ANVIL_CHAIN_ID:
            from .anvil import dev_keys

            return dev_keys(dev_index + 1)[dev_index]
    raise LedgerError(f"no key: pass --key-file or set {env}")


# ---------------------------------------------------------------------- keystores


def keystore_password(path: str | Path, *, new: bool = False) -> str:
    """The password of the keystore `path`: GRIDGAME_KEYSTORE_PASSWORD, else asked on the
    terminal (twice for a `new` one); without either, a `LedgerError`."""
    value = os.environ.get(KEYSTORE_PASSWORD_ENV)
    if value:
        return value
    what = "the new keystore" if new else "keystore"
    if not sys.stdin.isatty():
        raise LedgerError(
            f"{what} {path} needs a password: set {KEYSTORE_PASSWORD_ENV} (no terminal to ask on)"
        )
    try:
        password = getpass.getpass(f"password for {what} {path}: ")
        if new:
            if not password:
                raise LedgerError("the password is empty: a keystore needs one")
            if getpass.getpass("the same password again: ") != password:
                raise LedgerError("the two passwords differ; nothing written")
    except EOFError:
        raise LedgerError(f"no password given for {what} {path}") from None
    return password


def create_keystore(path: str | Path, password: str, key: str | None = None) -> str:
    """Write `key` (default: a new random key) to `path` as a keystore encrypted with
    `password`, mode 0600, never over an existing file; returns its address."""
    from eth_account import Account

    p = Path(path)
    if not password:
        raise LedgerError("the password is empty: a keystore needs one")
    secret = parse_key(key, "the key") if key is not None else Account.create().key.to_0x_hex()
    keystore = Account.encrypt(bytes.fromhex(secret[2:]), password)
    try:
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise LedgerError(f"{p} exists already; not overwriting it") from None
    except OSError as exc:
        raise LedgerError(f"cannot write {p}: {exc.strerror}") from None
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        with os.fdopen(fd, "w") as fh:
            json.dump(keystore, fh)
            fh.write("\n")
    except OSError as exc:
        p.unlink(missing_ok=True)
        raise LedgerError(f"cannot write {p}: {exc.strerror}") from None
    return str(Account.from_key(secret).address)


# ---------------------------------------------------------------------- internals


def _read(p: Path) -> str:
    if not p.exists():
        raise LedgerError(f"key file {p} not found")
    if not p.is_file():
        raise LedgerError(f"key file {p} is not a file")
    try:
        with p.open("rb") as fh:
            data = fh.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise LedgerError(f"key file {p} cannot be read: {exc.strerror}") from None
    if len(data) > MAX_KEY_FILE_BYTES:
        raise LedgerError(f"key file {p} is too large for a key or a keystore")
    try:
        text = data.decode("utf-8-sig")  # a byte order mark is not part of the key
    except UnicodeDecodeError:
        text = "\0"
    if "\0" in text:
        raise LedgerError(f"key file {p} is binary: expected a hex private key or a keystore JSON")
    return text


def _keystore(p: Path, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise LedgerError(f"key file {p} is not valid JSON: {exc}") from None
    crypto = data.get("crypto", data.get("Crypto")) if isinstance(data, dict) else None
    if not isinstance(crypto, dict):
        raise LedgerError(
            f"key file {p} is JSON but not an Ethereum keystore (no 'crypto' section)"
        )
    return dict(data)


def _decrypt(p: Path, keystore: dict[str, Any], password: str) -> str:
    from eth_account import Account

    try:
        secret = Account.decrypt(keystore, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise LedgerError(f"key file {p}: wrong password for the keystore") from None
        raise LedgerError(f"key file {p} is not a valid keystore: {_one_line(exc)}") from None
    except Exception as exc:  # a keystore with missing or mistyped fields
        raise LedgerError(
            f"key file {p} is not a valid keystore: {type(exc).__name__} {_one_line(exc)}"
        ) from None
    return parse_key(secret.hex(), f"keystore {p}")


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
