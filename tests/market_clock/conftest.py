"""Fixtures for the clock: a configured market on the session's Anvil, the transaction queue as a
real subprocess, and a way to start the clock itself as a subprocess."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from gridgame import NotHealthy, wait_healthy
from ledger_contracts import Anvil, Deployment, account, connect, deploy, free_port, transact
from ledger_contracts.testing import Scenario, ScriptedMarket

REPO = Path(__file__).resolve().parents[2]
CLOCK_INDEX = 1  # the clock's default dev key
RELAY_INDEX = 9  # the queue's default dev key

# Two sellers, three buyers (the third never bids), one zone.
SMALL = Scenario(
    sellers=((30, 0.08), (40, 0.10)),
    buyers=(10, 12, 8),
    seller_zones=(0, 0),
    buyer_zones=(0, 0, 0),
    hop_matrix=((0,),),
)


# The clock moves this chain's time far ahead of the wall clock: its own node, so that tests
# elsewhere (whose requests carry wall-clock deadlines) never see it.
@pytest.fixture(scope="module")
def anvil() -> Iterator[Anvil]:
    with Anvil(accounts=20) as node:
        yield node


@pytest.fixture(scope="module")
def w3(anvil: Anvil) -> Web3:
    return connect(anvil.url)


@pytest.fixture(scope="module")
def dev_accounts(anvil: Anvil) -> list[LocalAccount]:
    return [account(k) for k in anvil.keys]


@pytest.fixture(scope="module")
def operator(dev_accounts: list[LocalAccount]) -> LocalAccount:
    return dev_accounts[0]


@dataclass
class Market:
    w3: Web3
    deployment: Deployment
    file: Path
    operator: LocalAccount
    clock: LocalAccount
    sellers: list[LocalAccount]
    buyers: list[LocalAccount]


@pytest.fixture(scope="module")
def market(
    w3: Web3,
    operator: LocalAccount,
    dev_accounts: list[LocalAccount],
    tmp_path_factory: pytest.TempPathFactory,
) -> Market:
    """One deployment per module: prosumers admitted, prices set, CLOCK_ROLE granted to the
    clock's dev key. Tests play games one after the other in it."""
    deployment = deploy(w3, operator)
    prosumers = dev_accounts[10:15]
    ScriptedMarket(w3, deployment, operator, prosumers).setup(SMALL)
    m = deployment.contract(w3, "Market")
    clock = dev_accounts[CLOCK_INDEX]
    transact(w3, operator, m.functions.grantRole(m.functions.CLOCK_ROLE().call(), clock.address))
    if "GridToken" in deployment.contracts:  # settlement: buyers escrow their demands
        token = deployment.contract(w3, "GridToken")
        for buyer in prosumers[2:]:
            transact(w3, operator, token.functions.mint(buyer.address, 10**12))
            transact(
                w3, buyer, token.functions.approve(deployment.address("Settlement"), 2**256 - 1)
            )
    file = tmp_path_factory.mktemp("market") / "deployment.json"
    deployment.save(file)
    return Market(w3, deployment, file, operator, clock, prosumers[:2], prosumers[2:])


class Proc:
    """A child Python process with its stderr in a file."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self.args = args
        out = open(log, "ab")  # noqa: SIM115  (closed with the process)
        self._out = out
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._out.close()


def wait_http(url: str, timeout: float = 30.0, proc: Proc | None = None) -> None:
    try:
        wait_healthy(
            url, timeout=timeout, interval=0.05, alive=None if proc is None else proc.alive
        )
    except NotHealthy as exc:
        raise AssertionError(f"{exc}\n{proc.text() if proc is not None else ''}") from exc


class Queue:
    """The transaction queue as a subprocess, restartable on the same port and database."""

    def __init__(self, rpc: str, deployment: Path, folder: Path, *flags: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.args = [
            "-m",
            "tx_queue",
            "--rpc",
            rpc,
            "--deployment",
            str(deployment),
            "--db",
            str(folder / "queue.db"),
            "--port",
            str(self.port),
            *flags,
        ]
        self.folder = folder
        self.proc: Proc | None = None

    def start(self) -> None:
        self.proc = Proc(self.args, self.folder / "queue.log")
        wait_http(f"{self.url}/health", proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.stop()
            self.proc = None


@pytest.fixture(scope="module")
def queue(
    anvil: Anvil,
    market: Market,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Queue]:
    q = Queue(anvil.url, market.file, tmp_path_factory.mktemp("queue"))
    q.start()
    try:
        yield q
    finally:
        q.stop()


StartClock = Callable[..., tuple[Proc, str]]


@pytest.fixture
def start_clock(anvil: Anvil, market: Market, tmp_path: Path) -> Iterator[StartClock]:
    """Start `python -m market_clock` with the market's files plus `flags`; returns the process
    and its health URL. Every process started is stopped at the end."""
    procs: list[Proc] = []

    def start(
        *flags: str,
        queue: str = "http://127.0.0.1:9",
        wait: bool = True,
        env: dict[str, str] | None = None,
    ) -> tuple[Proc, str]:
        port = free_port()
        proc = Proc(
            [
                "-m",
                "market_clock",
                "--rpc",
                anvil.url,
                "--deployment",
                str(market.file),
                "--queue",
                queue,
                "--port",
                str(port),
                *flags,
            ],
            tmp_path / f"clock-{len(procs)}.log",
            env,
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}/health"
        if wait:
            wait_http(url, proc=proc)
        return proc, url

    yield start
    for p in procs:
        p.stop()
