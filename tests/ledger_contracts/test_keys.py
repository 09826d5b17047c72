"""Keys, in the one place they are read: hex keys checked (digits, length, 0 < key < the
secp256k1 order), keystores written and decrypted, and a silent node costing one timeout."""

from __future__ import annotations

import io
import json
import stat
import time
from pathlib import Path

import pytest
from eth_account import Account

from ledger_contracts import (
    KEYSTORE_PASSWORD_ENV,
    LedgerError,
    NodeUnavailable,
    connect,
    create_keystore,
    dev_keys,
    key_file_address,
    load_key,
    parse_key,
    read_key_file,
)
from tests.fakes import silent_endpoint

ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
KEY = dev_keys(3)[2]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "does not hold a 32-byte hex private key: it is empty"),
        ("0x" + "g" * 64, "does not hold a 32-byte hex private key: not hex digits"),
        ("0x" + "12 34" * 13, "not hex digits (expected 64, 0x optional)"),
        ("0x1234", "does not hold a 32-byte hex private key: 4 hex digits, not 64"),
        ("0x" + "ab" * 33, ": 66 hex digits, not 64"),
        ("0x" + "0" * 64, "holds the zero key, which is not a valid private key"),
        (f"{ORDER:#066x}", "holds a number at or above the secp256k1 curve order"),
        ("0x" + "f" * 64, "holds a number at or above the secp256k1 curve order"),
    ],
)
def test_a_bad_key_is_named_by_its_source_and_problem(text: str, problem: str) -> None:
    with pytest.raises(LedgerError) as caught:
        parse_key(text, "key file k.txt")
    message = str(caught.value)
    assert message.startswith("key file k.txt ") and problem in message
    assert "\n" not in message


def test_good_keys_are_normalised() -> None:
    assert parse_key(KEY[2:].upper() + "\n", "k") == KEY
    assert parse_key("0X" + KEY[2:], "k") == KEY
    assert parse_key(f"{ORDER - 1:#066x}", "k") == f"{ORDER - 1:#066x}"  # the largest key
    assert parse_key("0x" + "0" * 63 + "1", "k") == "0x" + "0" * 63 + "1"  # the smallest


def test_key_files_that_are_not_keys(tmp_path: Path) -> None:
    binary = tmp_path / "binary.key"
    binary.write_bytes(b"\x00\xff" * 16)
    with pytest.raises(LedgerError, match=f"key file {binary} is binary"):
        read_key_file(binary)
    latin = tmp_path / "latin.key"
    latin.write_bytes(b"\xe9" * 64)
    with pytest.raises(LedgerError, match=f"key file {latin} is binary"):
        read_key_file(latin)
    with pytest.raises(LedgerError, match=f"key file {tmp_path} is not a file"):
        read_key_file(tmp_path)
    big = tmp_path / "big.key"
    big.write_text("0" * 100_000)
    with pytest.raises(LedgerError, match="is too large"):
        read_key_file(big)
    zero = tmp_path / "zero.key"
    zero.write_text("0x" + "0" * 64 + "\n")
    with pytest.raises(LedgerError, match=f"key file {zero} holds the zero key"):
        read_key_file(zero)
    not_keystore = tmp_path / "other.json"
    not_keystore.write_text('{"address": "0x12"}')
    with pytest.raises(LedgerError, match="is JSON but not an Ethereum keystore"):
        read_key_file(not_keystore)
    broken = tmp_path / "broken.json"
    broken.write_text('{"crypto": ')
    with pytest.raises(LedgerError, match=f"key file {broken} is not valid JSON"):
        read_key_file(broken)


def test_a_key_in_the_environment_is_checked_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_KEY", KEY[2:])
    assert load_key(None, env="SOME_KEY") == KEY
    monkeypatch.setenv("SOME_KEY", "0x" + "0" * 64)
    with pytest.raises(LedgerError, match="environment variable SOME_KEY holds the zero key"):
        load_key(None, env="SOME_KEY")


def test_a_bad_key_file_never_falls_back_to_a_dev_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    asked: list[str] = []

    def node() -> None:  # connecting is for the dev key only
        asked.append("connect")

    with pytest.raises(LedgerError, match="not hex digits"):
        load_key(bad, env="SOME_KEY", w3=node)  # type: ignore[arg-type]
    assert asked == []


# ---------------------------------------------------------------------- keystores


@pytest.fixture(scope="module")
def keystore(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keystore") / "alice.json"
    assert create_keystore(path, "correct horse", key=KEY) == Account.from_key(KEY).address
    return path


def test_a_keystore_is_standard_private_and_never_overwritten(keystore: Path) -> None:
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    data = json.loads(keystore.read_text())
    assert data["version"] == 3 and data["crypto"]["kdf"] == "scrypt"
    assert Account.decrypt(data, "correct horse").to_0x_hex() == KEY  # any wallet reads it
    before = keystore.read_bytes()
    with pytest.raises(LedgerError, match=f"{keystore} exists already; not overwriting it"):
        create_keystore(keystore, "another")
    assert keystore.read_bytes() == before
    with pytest.raises(LedgerError, match="the password is empty"):
        create_keystore(keystore.parent / "empty.json", "")
    assert not (keystore.parent / "empty.json").exists()


def test_a_keystore_loads_with_the_password_from_the_environment(
    keystore: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEYSTORE_PASSWORD_ENV, "correct horse")
    assert read_key_file(keystore) == KEY
    assert load_key(keystore, env="SOME_KEY") == KEY
    monkeypatch.delenv(KEYSTORE_PASSWORD_ENV)
    assert key_file_address(keystore) == Account.from_key(KEY).address  # no password needed


def test_a_wrong_password_is_one_line_naming_the_file(
    keystore: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEYSTORE_PASSWORD_ENV, "battery staple")
    with pytest.raises(LedgerError) as caught:
        read_key_file(keystore)
    assert str(caught.value) == f"key file {keystore}: wrong password for the keystore"


def test_no_password_and_no_terminal_is_an_error(
    keystore: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEYSTORE_PASSWORD_ENV, raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # not a terminal
    with pytest.raises(LedgerError) as caught:
        read_key_file(keystore)
    assert str(caught.value) == (
        f"keystore {keystore} needs a password: set {KEYSTORE_PASSWORD_ENV} (no terminal to ask on)"
    )


def test_a_damaged_keystore_is_named(
    keystore: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEYSTORE_PASSWORD_ENV, "correct horse")
    data = json.loads(keystore.read_text())
    del data["crypto"]["kdfparams"]
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps(data))
    with pytest.raises(LedgerError, match=f"key file {damaged} is not a valid keystore"):
        read_key_file(damaged)


# ---------------------------------------------------------------------- a silent node


def test_a_silent_node_costs_one_timeout_not_five() -> None:
    with silent_endpoint() as url:
        started = time.monotonic()
        with pytest.raises(NodeUnavailable, match=f"no Ethereum node answers at {url}"):
            connect(url, timeout=1.0)
        elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 4.0, elapsed  # web3.py's five attempts took 5 x 1 s + 1.9 s
