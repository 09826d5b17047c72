"""Every CLI that loads a key reads it through `ledger_contracts.keys`: a bad key file is one
named error and an exit 1 (never a traceback, never a fall-back to a dev key), and a keystore
works wherever a hex key does. Real processes on the session's Anvil."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger_contracts import KEYSTORE_PASSWORD_ENV, Anvil, Deployment, create_keystore, free_port

REPO = Path(__file__).resolve().parents[1]
NOT_HEX = "0x" + "g" * 64 + "\n"


def run(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("OPERATOR_KEY", "RELAY_KEY", "CLOCK_KEY", "KEY_FILE", KEYSTORE_PASSWORD_ENV)
    }
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env={**base, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def bad_key(tmp_path: Path) -> Path:
    path = tmp_path / "bad.key"
    path.write_text(NOT_HEX)
    return path


@pytest.fixture
def deployment_file(deployment: Deployment, tmp_path: Path) -> Path:
    path = tmp_path / "deployment.json"
    deployment.save(path)
    return path


def assert_named(proc: subprocess.CompletedProcess[str], path: Path) -> None:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert (
        f"key file {path} does not hold a 32-byte hex private key: not hex digits" in proc.stderr
    ), proc.stderr


def test_deploy(anvil: Anvil, bad_key: Path, tmp_path: Path) -> None:
    proc = run(
        [
            "ledger_contracts",
            "deploy",
            "--rpc",
            anvil.url,
            "--key-file",
            str(bad_key),
            "--out",
            str(tmp_path / "d.json"),
        ]
    )
    assert_named(proc, bad_key)
    assert proc.stderr == (
        f"error: key file {bad_key} does not hold a 32-byte hex private "
        "key: not hex digits (expected 64, 0x optional)\n"
    )
    assert not (tmp_path / "d.json").exists()


def test_deploy_with_a_keystore(
    anvil: Anvil, w3: Web3, dev_accounts: list[LocalAccount], tmp_path: Path
) -> None:
    keystore = tmp_path / "operator.json"
    create_keystore(keystore, "correct horse", key=anvil.keys[5])
    out = tmp_path / "d.json"
    proc = run(
        [
            "ledger_contracts",
            "deploy",
            "--rpc",
            anvil.url,
            "--key-file",
            str(keystore),
            "--out",
            str(out),
        ],
        env={KEYSTORE_PASSWORD_ENV: "correct horse"},
    )
    assert proc.returncode == 0, proc.stderr
    assert Deployment.load(out).operator == dev_accounts[5].address


def test_the_relay_never_falls_back_to_the_dev_key(
    anvil: Anvil, bad_key: Path, deployment_file: Path, tmp_path: Path
) -> None:
    proc = run(
        [
            "tx_queue",
            "--rpc",
            anvil.url,
            "--deployment",
            str(deployment_file),
            "--db",
            str(tmp_path / "q.db"),
            "--port",
            str(free_port()),
            "--key-file",
            str(bad_key),
        ],
        timeout=30,
    )
    assert_named(proc, bad_key)
    assert proc.stderr.splitlines()[-1].startswith(f"error: key file {bad_key} does not hold")


def test_the_clock(anvil: Anvil, bad_key: Path, deployment_file: Path) -> None:
    proc = run(
        [
            "market_clock",
            "--rpc",
            anvil.url,
            "--deployment",
            str(deployment_file),
            "--queue",
            "http://127.0.0.1:9",
            "--port",
            str(free_port()),
            "--key-file",
            str(bad_key),
        ],
        timeout=30,
    )
    assert_named(proc, bad_key)


def test_the_demo_meter(anvil: Anvil, bad_key: Path, deployment_file: Path) -> None:
    proc = run(
        [
            "demo",
            "meter",
            "--rpc",
            anvil.url,
            "--deployment",
            str(deployment_file),
            "--queue",
            "http://127.0.0.1:9",
            "--key-file",
            str(bad_key),
        ]
    )
    assert_named(proc, bad_key)
    assert proc.stderr == (
        f"error: key file {bad_key} does not hold a 32-byte hex private "
        "key: not hex digits (expected 64, 0x optional)\n"
    )
