"""A market for the prosumer client's tests (once per session): fresh contracts on the session's
Anvil, admitted prosumers, and the transaction queue and optimizer as real subprocesses."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger_contracts import Anvil, Deployment, deploy, free_port
from ledger_contracts.testing import Scenario, ScriptedMarket
from tests.services import Service, start, start_queue, stop

REPO = Path(__file__).resolve().parents[2]
FIRST_PROSUMER = 10  # dev keys 10.. (0 is the operator; 9 is tx_queue's default relay)

METER = 19  # dev key granted the meter role
TOKENS = 1_000_000_000  # base units (1000 currency units) minted to every buyer but the last

# Sellers (kWh, price) and buyers (kWh); the agents' game uses the first 2 sellers and 3
# buyers, the CLI tests the others (the last buyer has no tokens). Zones 0..2 with the default
# hop matrix.
SCENARIO = Scenario(
    sellers=((40.0, 0.08), (30.0, 0.07), (50.0, 0.09)),
    buyers=(20.0, 25.0, 15.0, 10.0, 12.0, 9.0),
    seller_zones=(0, 1, 2),
    buyer_zones=(0, 1, 2, 0, 1, 2),
    epsilon_wh=5,
    round_limit=50,
    turn_seconds=60,
)


@dataclass
class Market:
    w3: Web3
    rpc: str
    deployment: Deployment
    deployment_file: Path
    operator: LocalAccount
    driver: ScriptedMarket
    prosumers: list[LocalAccount]  # admitted, in SCENARIO order: sellers then buyers
    keys: list[str]
    queue_url: str
    optimizer_url: str
    tmp: Path
    scenario: Scenario = SCENARIO
    meter: int = METER
    tokens: int = TOKENS
    repo: Path = REPO
    services: list[Service] = field(default_factory=list)

    @property
    def market(self):  # type: ignore[no-untyped-def]
        return self.driver.market

    def open_game(self, registration_seconds: int = 30, epsilon_wh: int = 5) -> int:
        # The chain's time now: a fresh block, since the latest may be long past (and a test
        # chain's clock can run ahead of the wall's).
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        now = self.w3.eth.get_block("latest")["timestamp"]
        end = now + registration_seconds
        self.driver.send(
            "openGame",
            self.operator,
            self.market.functions.openGame(
                (end, end + 900, SCENARIO.round_limit, SCENARIO.turn_seconds, epsilon_wh)
            ),
        )
        return int(self.market.functions.gameCount().call())

    def advance(self, seconds: int) -> None:
        """Move the chain's clock (Anvil) and mine a block."""
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

    def close_registration(self, game_id: int, seconds: int = 31) -> None:
        self.advance(seconds)
        self.driver.send(
            "closeRegistration", self.operator, self.market.functions.closeRegistration(game_id)
        )

    def key_file(self, index: int) -> Path:
        path = self.tmp / f"key{index}.txt"
        path.write_text(self.keys[index] + "\n")
        path.chmod(0o600)
        return path

    def common_flags(self) -> list[str]:
        return [
            "--rpc",
            self.rpc,
            "--deployment",
            str(self.deployment_file),
            "--queue",
            self.queue_url,
            "--optimizer",
            self.optimizer_url,
        ]

    def diagnostics(self) -> str:
        return "\n".join(f"--- {s.name} ---\n{s.output()}" for s in self.services)


def _relay_key(w3: Web3, tmp: Path) -> Path:
    """A relay account of its own (funded through Anvil), so that this session-long queue
    never shares its transaction nonces with another test's queue on the same node."""
    relay = Account.create()
    w3.provider.make_request(
        "anvil_setBalance",  # type: ignore[arg-type]
        [relay.address, hex(10**20)],
    )
    path = tmp / "relay.key"
    path.write_text(relay.key.to_0x_hex())
    return path


@pytest.fixture(scope="session")
def prosumer_market(
    anvil: Anvil,
    w3: Web3,
    dev_accounts: list[LocalAccount],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Market]:
    tmp = tmp_path_factory.mktemp("prosumer_market")
    operator = dev_accounts[0]
    deployment = deploy(w3, operator)  # with the token and settlement
    deployment_file = tmp / "deployment.json"
    deployment.save(deployment_file)
    prosumers = dev_accounts[FIRST_PROSUMER : FIRST_PROSUMER + SCENARIO.prosumers]
    driver = ScriptedMarket(w3, deployment, operator, prosumers)
    driver.setup(SCENARIO)
    m_fn = driver.market.functions
    driver.send(
        "grantRole", operator, m_fn.grantRole(m_fn.METER_ROLE().call(), dev_accounts[METER].address)
    )
    token = deployment.contract(w3, "GridToken").functions
    for buyer in prosumers[len(SCENARIO.sellers) : -1]:
        driver.send("mint", operator, token.mint(buyer.address, TOKENS))
    queue_port, optimizer_port = free_port(), free_port()
    m = Market(
        w3,
        anvil.url,
        deployment,
        deployment_file,
        operator,
        driver,
        prosumers,
        anvil.keys,
        f"http://127.0.0.1:{queue_port}",
        f"http://127.0.0.1:{optimizer_port}",
        tmp,
    )
    try:
        m.services.append(
            start_queue(anvil.url, deployment_file, tmp, queue_port, _relay_key(w3, tmp))
        )
        m.services.append(
            start(
                "optimizer",
                ["optimizer", "--port", str(optimizer_port), "--log-level", "warning"],
                tmp / "optimizer.log",
                m.optimizer_url + "/health",
            )
        )
        yield m
    finally:
        for service in m.services:
            stop(service)
