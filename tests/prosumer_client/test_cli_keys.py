"""The CLI's keys: bad key files are one line and an exit 1 before anything connects (the chain
untouched), a keystore made by `keys new` signs a real offer, a silent node costs one timeout.
Real processes: `python -m prosumer_client ...` against the session's market on Anvil."""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from ledger_contracts import KEYSTORE_PASSWORD_ENV, Deployment, create_keystore
from prosumer_client.cli import main
from tests.fakes import silent_endpoint

ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SELLER = 12  # an admitted seller's dev key (test_cli_chain offers with it in its own game)

BAD_KEYS: dict[str, tuple[bytes, str]] = {  # file content, the problem named
    "not hex": (b"0x" + b"g" * 64 + b"\n", "does not hold a 32-byte hex private key: not hex"),
    "binary": (b"\x00\xff" * 16, "is binary"),
    "zero": (b"0x" + b"0" * 64 + b"\n", "holds the zero key"),
    "curve order": (f"{ORDER:#066x}\n".encode(), "at or above the secp256k1 curve order"),
}
COMMANDS: dict[str, list[str]] = {  # each command that signs, with good arguments
    "offer": ["offer", "--kwh", "2", "--price", "0.05"],
    "demand": ["demand", "--kwh", "2"],
    "meter": ["meter", "--produced", "0", "--consumed", "1"],
    "play": ["play", "--buy", "2", "--games", "1"],
}


def cli(
    argv: list[Any], *, env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PROSUMER_") and k != KEYSTORE_PASSWORD_ENV
    }
    return subprocess.run(
        [sys.executable, "-m", "prosumer_client", *map(str, argv)],
        env={**base, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    return proc.stderr.strip()


WINDOW = 600  # s of registration: slow processes on a busy machine
OPENED: list[Any] = []  # the markets of the games a test opened


def open_game(m: Any) -> int:
    """A game open for registration for WINDOW s (closed again after the test)."""
    OPENED.append(m)
    return int(m.open_game(registration_seconds=WINDOW))


@pytest.fixture(autouse=True)
def _close_windows() -> Iterator[None]:
    """After a test that opened games, the chain moves past their registration windows: the
    session's market is shared, and a later `play` agent joins every game still open."""
    yield
    if OPENED:
        OPENED[0].advance(WINDOW + 1)
        OPENED.clear()


def registered(m: Any, game: int) -> tuple[list[Any], list[Any]]:
    fn = m.market.functions
    return ([tuple(o) for o in fn.offers(game).call()], [tuple(d) for d in fn.demands(game).call()])


# ---------------------------------------------------------------------- bad keys


@pytest.mark.parametrize("kind", list(BAD_KEYS))
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_bad_key_file_is_one_line_and_changes_nothing(
    command: str,
    kind: str,
    prosumer_market: Any,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    m = prosumer_market
    game = open_game(m)
    content, problem = BAD_KEYS[kind]
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    before = registered(m, game)
    code = main(
        [*COMMANDS[command], "--game", str(game), *m.common_flags(), "--key-file", str(path)]
        if command != "play"
        else [*COMMANDS[command], *m.common_flags(), "--key-file", str(path)]
    )
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.startswith(f"error: key file {path} ") and problem in err, err
    assert err.count("\n") == 1, err
    assert registered(m, game) == before


@pytest.mark.parametrize(("command", "kind"), list(zip(COMMANDS, BAD_KEYS, strict=True)))
def test_a_bad_key_file_in_a_real_process(
    command: str, kind: str, prosumer_market: Any, tmp_path: Path
) -> None:
    m = prosumer_market
    content, problem = BAD_KEYS[kind]
    path = tmp_path / "bad.key"
    path.write_bytes(content)
    game = [] if command == "play" else ["--game", "1"]
    error = one_line_error(cli([*COMMANDS[command], *game, *m.common_flags(), "--key-file", path]))
    assert error.startswith(f"error: key file {path} ") and problem in error


def test_a_zero_key_in_the_environment(prosumer_market: Any) -> None:
    proc = cli(
        [*COMMANDS["offer"], "--game", "1", *prosumer_market.common_flags()],
        env={"PROSUMER_KEY": "0x" + "0" * 64},
    )
    assert one_line_error(proc) == (
        "error: environment variable PROSUMER_KEY holds the zero "
        "key, which is not a valid private key"
    )


# ---------------------------------------------------------------------- a silent node


def test_a_silent_node_fails_within_the_timeout_naming_it(tmp_path: Path) -> None:
    deployment = tmp_path / "deployment.json"
    Deployment(31337, 1, "0x" + "11" * 20, {"Market": "0x" + "22" * 20}).save(deployment)
    key = Account.create().key.to_0x_hex()
    with silent_endpoint() as url:
        started = time.monotonic()
        proc = cli(
            [*COMMANDS["offer"], "--game", "1", "--rpc", url, "--deployment", deployment],
            env={"PROSUMER_KEY": key, "PROSUMER_RPC_TIMEOUT": "6"},
        )
        elapsed = time.monotonic() - started
    error = one_line_error(proc)
    assert error.startswith(f"error: no Ethereum node answers at {url}: "), error
    assert "timed out" in error
    # One attempt: 6 s and the interpreter's start (seconds on a loaded machine); web3.py's
    # five attempts took 5 x 6 + 1.9 s.
    assert elapsed < 20, elapsed


# ---------------------------------------------------------------------- keystores


def test_keys_new_writes_a_private_keystore_and_show_reads_its_address(tmp_path: Path) -> None:
    path = tmp_path / "alice.json"
    password = {KEYSTORE_PASSWORD_ENV: "correct horse"}
    made = cli(["keys", "new", "--out", path, "--json"], env=password)
    assert made.returncode == 0, made.stderr
    address = json.loads(made.stdout)["address"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = Account.decrypt(path.read_text(), "correct horse")  # a standard keystore
    assert Account.from_key(key).address == address

    again = cli(["keys", "new", "--out", path], env=password)
    assert one_line_error(again) == f"error: {path} exists already; not overwriting it"
    assert Account.decrypt(path.read_text(), "correct horse") == key  # untouched

    shown = cli(["keys", "show", path])  # no password needed for the address
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == address + "\n"
    raw = tmp_path / "raw.key"
    raw.write_text(key.to_0x_hex() + "\n")
    assert cli(["keys", "show", raw]).stdout == address + "\n"


def test_keys_new_without_a_password_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bob.json"
    proc = cli(["keys", "new", "--out", path])  # stdin is not a terminal
    assert one_line_error(proc) == (
        f"error: the new keystore {path} needs a password: set "
        f"{KEYSTORE_PASSWORD_ENV} (no terminal to ask on)"
    )
    assert not path.exists()


def test_a_keystore_signs_a_real_offer(prosumer_market: Any, tmp_path: Path) -> None:
    m = prosumer_market
    seller = m.prosumers[SELLER - 10].address
    path = tmp_path / "seller.json"
    create_keystore(path, "correct horse", key=m.keys[SELLER])
    game = open_game(m)

    wrong = cli(
        [*COMMANDS["offer"], "--game", game, *m.common_flags(), "--key-file", path],
        env={KEYSTORE_PASSWORD_ENV: "battery staple"},
    )
    assert one_line_error(wrong) == f"error: key file {path}: wrong password for the keystore"
    missing = cli([*COMMANDS["offer"], "--game", game, *m.common_flags(), "--key-file", path])
    assert one_line_error(missing) == (
        f"error: keystore {path} needs a password: set "
        f"{KEYSTORE_PASSWORD_ENV} (no terminal to ask on)"
    )
    assert registered(m, game) == ([], [])

    proc = cli(
        [
            "offer",
            "--game",
            game,
            "--kwh",
            "3.5",
            "--price",
            "0.06",
            "--json",
            *m.common_flags(),
            "--key-file",
            path,
        ],
        env={KEYSTORE_PASSWORD_ENV: "correct horse"},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["address"] == seller
    assert registered(m, game) == ([(seller, 3_500, 60_000)], [])


# ---------------------------------------------------------------------- on a terminal


def on_terminal(
    argv: list[Any], answers: list[tuple[str, str]], timeout: float = 60.0
) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal of its own, answering each prompt in turn; its exit code
    and everything it wrote (prompts included)."""
    master, slave = pty.openpty()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PROSUMER_") and k != KEYSTORE_PASSWORD_ENV
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "prosumer_client", *map(str, argv)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )  # no /dev/tty: getpass uses the pty
    os.close(slave)
    seen = b""
    end = time.monotonic() + timeout
    pending = list(answers)
    try:
        while True:
            if pending and pending[0][0].encode() in seen:
                prompt, answer = pending.pop(0)
                seen = seen.replace(prompt.encode(), b"<asked>", 1)
                os.write(master, answer.encode() + b"\n")
                continue
            ready, _, _ = select.select([master], [], [], max(0.0, end - time.monotonic()))
            if not ready:
                raise AssertionError(f"no prompt {pending[:1]} in {seen!r}")
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        code = proc.wait(timeout=max(1.0, end - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert not pending, f"never asked {pending}: {seen!r}"
    return code, seen.decode(errors="replace").replace("\r\n", "\n")


def test_keys_new_asks_twice_on_a_terminal(tmp_path: Path) -> None:
    path = tmp_path / "carol.json"
    code, out = on_terminal(
        ["keys", "new", "--out", path],
        [
            (f"password for the new keystore {path}: ", "correct horse"),
            ("the same password again: ", "correct horse"),
        ],
    )
    assert code == 0, out
    assert "correct horse" not in out  # not echoed
    address = out.split(f"keystore written to {path}: ")[1].strip()
    assert Account.from_key(Account.decrypt(path.read_text(), "correct horse")).address == address

    other = tmp_path / "dave.json"
    code, out = on_terminal(
        ["keys", "new", "--out", other],
        [
            (f"password for the new keystore {other}: ", "correct horse"),
            ("the same password again: ", "battery staple"),
        ],
    )
    assert code == 1 and out.endswith("error: the two passwords differ; nothing written\n")
    assert not other.exists()


def test_a_keystore_asks_its_password_on_a_terminal(prosumer_market: Any, tmp_path: Path) -> None:
    m = prosumer_market
    seller = m.prosumers[SELLER - 10].address
    path = tmp_path / "seller.json"
    create_keystore(path, "correct horse", key=m.keys[SELLER])
    prompt = f"password for keystore {path}: "
    game = open_game(m)
    offer = [
        "offer",
        "--game",
        game,
        "--kwh",
        "4",
        "--price",
        "0.07",
        *m.common_flags(),
        "--key-file",
        path,
    ]
    code, out = on_terminal(offer, [(prompt, "battery staple")])
    assert code == 1
    assert out.endswith(f"error: key file {path}: wrong password for the keystore\n"), out
    assert registered(m, game) == ([], [])
    code, out = on_terminal(offer, [(prompt, "correct horse")])
    assert code == 0, out
    assert "battery" not in out and "horse" not in out  # never echoed
    assert registered(m, game) == ([(seller, 4_000, 70_000)], [])

    # Reading needs the address only: no password asked.
    code, out = on_terminal(
        ["status", "--json", "--game", game, *m.common_flags(), "--key-file", path], []
    )
    assert code == 0, out
    status = json.loads(out)
    assert status["address"] == seller and status["game"]["role"] == "seller"
    # Nor for a keystore that exists already: refused before the prompt.
    code, out = on_terminal(["keys", "new", "--out", path], [])
    assert (code, out) == (1, f"error: {path} exists already; not overwriting it\n")
