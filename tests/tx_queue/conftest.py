"""The queue as a real subprocess (`python -m tx_queue`) on a free port, over real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from gridgame import NotHealthy, wait_healthy
from ledger_contracts import Anvil, Deployment, deploy, free_port, transact
from tx_queue.settings import RELAY_DEV_KEY_INDEX

REPO = Path(__file__).resolve().parents[2]


class QueueProcess:
    """`python -m tx_queue` as a child process; its stderr (JSON logs) goes to `log`."""

    def __init__(self, rpc: str, deployment: Path, db: Path, log: Path, *extra: str) -> None:
        self.args = [
            sys.executable,
            "-m",
            "tx_queue",
            "--rpc",
            rpc,
            "--deployment",
            str(deployment),
            "--db",
            str(db),
            *extra,
        ]
        self.log = log
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_node: bool = True) -> QueueProcess:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "RELAY_KEY"}
        with open(self.log, "ab") as err:
            self.proc = subprocess.Popen(
                [*self.args, "--port", str(self.port)],
                cwd=REPO,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=err,
            )
        proc = self.proc
        try:
            wait_healthy(
                f"{self.url}/health",
                timeout=30,
                interval=0.05,
                alive=lambda: proc.poll() is None,
                ready=lambda health: not wait_node or health["status"] == "ok",
            )
        except NotHealthy as exc:
            raise AssertionError(
                f"tx_queue did not come up: {exc}\n{self.log.read_text()[-2000:]}"
            ) from exc
        return self

    def kill(self) -> None:
        """kill -9: no clean-up at all."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Env:
    w3: Web3
    deployment: Deployment
    deployment_file: Path
    operator: LocalAccount
    relay: str
    queue: QueueProcess

    @property
    def url(self) -> str:
        return self.queue.url

    def market(self):  # noqa: ANN201
        return self.deployment.contract(self.w3, "Market")

    def relay_nonce(self) -> int:
        return self.w3.eth.get_transaction_count(self.relay)


def make_env(w3: Web3, operator: LocalAccount, relay: LocalAccount, tmp: Path, *extra: str) -> Env:
    deployment = deploy(w3, operator)
    path = tmp / "deployment.json"
    deployment.save(path)
    queue = QueueProcess(
        w3.provider.endpoint_uri,
        path,
        tmp / "queue.db",  # type: ignore[attr-defined]
        tmp / "queue.log",
        *extra,
    ).start()
    return Env(w3, deployment, path, operator, relay.address, queue)


def grant_admins(env: Env, admins: list[LocalAccount]) -> None:
    market = env.market()
    role = market.functions.DEFAULT_ADMIN_ROLE().call()
    for admin in admins:
        transact(env.w3, env.operator, market.functions.grantRole(role, admin.address))


@pytest.fixture(scope="module")
def env(
    w3: Web3, dev_accounts: list[LocalAccount], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Env]:
    """A fresh deployment and a queue for the module, on the session's Anvil."""
    e = make_env(
        w3, dev_accounts[0], dev_accounts[RELAY_DEV_KEY_INDEX], tmp_path_factory.mktemp("tx_queue")
    )
    yield e
    e.queue.stop()


@pytest.fixture
def own_anvil(tmp_path: Path) -> Iterator[Anvil]:
    """An Anvil of the test's own, which it may stop and restart (state kept in a file)."""
    node = Anvil(accounts=12, extra_args=("--state", str(tmp_path / "anvil-state.json")))
    node.start()
    yield node
    node.stop()
