"""An embedded Anvil node: started on a free port, stopped cleanly.

    with Anvil() as node:
        w3 = connect(node.url)
        operator = account(node.keys[0])

Anvil comes from the npm package @foundry-rs/anvil; we run its platform binary directly (the
npm launcher in node_modules/.bin would leave an orphan node behind if it were killed). The
binary can be overridden with the environment variable ANVIL.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx
from eth_account import Account

from .artifacts import REPO_ROOT
from .errors import LedgerError, NodeUnavailable

# Anvil's well-known development mnemonic: its accounts are throwaway test keys.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


def anvil_binary() -> str:
    explicit = os.environ.get("ANVIL")
    if explicit:
        return explicit
    for local in sorted((REPO_ROOT / "node_modules" / "@foundry-rs").glob("anvil-*/bin/anvil")):
        return str(local)
    found = shutil.which("anvil")
    if found:
        return found
    raise LedgerError("anvil not found: run `make install` (npm @foundry-rs/anvil) or set ANVIL")


def _die_with_parent() -> None:
    """In the child, before exec: Linux sends it SIGTERM when its parent dies, so a killed
    test or demo never leaves an orphan node behind."""
    if sys.platform == "linux":
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def dev_keys(n: int, mnemonic: str = ANVIL_MNEMONIC) -> list[str]:
    """The first `n` private keys of Anvil's mnemonic (as hex strings)."""
    Account.enable_unaudited_hdwallet_features()
    return [
        Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}").key.to_0x_hex()
        for i in range(n)
    ]


class Anvil:
    """A child Anvil process. `url` and `keys` are valid once started."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        accounts: int = 10,
        chain_id: int = 31337,
        block_time: float | None = None,
        log_file: Path | None = None,
        extra_args: tuple[str, ...] = (),
        startup_timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.accounts = accounts
        self.chain_id = chain_id
        self.block_time = block_time
        self.log_file = log_file
        self.extra_args = extra_args
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def keys(self) -> list[str]:
        return dev_keys(self.accounts)

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> Anvil:
        if self.running:
            return self
        for _attempt in range(3):  # a free port can be taken between probe and bind
            port = self.port or free_port(self.host)
            cmd = [
                anvil_binary(),
                "--host",
                self.host,
                "--port",
                str(port),
                "--accounts",
                str(self.accounts),
                "--chain-id",
                str(self.chain_id),
                "--mnemonic",
                ANVIL_MNEMONIC,
                *self.extra_args,
            ]
            if self.block_time:
                cmd += ["--block-time", str(self.block_time)]
            out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
            self._proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent
            )  # noqa: PLW1509
            self.port = port
            if self._wait_ready():
                return self
            self.stop()
            if self.port == port and _attempt < 2:
                self.port = None
        raise NodeUnavailable(f"anvil did not start ({' '.join(cmd)})")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + self.startup_timeout
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                return False
            try:
                if httpx.post(self.url, json=body, timeout=1.0).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
