"""A market for the gateway's tests (once per session): fresh contracts on the session's Anvil,
admitted prosumers (meter ids ``meter-0000``.. as `ScriptedMarket` admits them, and one more,
``meter-idle``, who plays in no game), METER_ROLE for a dev key, the transaction queue and the
gateway as real subprocesses, and a game driven to "trades fixed"."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger_contracts import Anvil, Deployment, deploy, free_port
from ledger_contracts.testing import Scenario, ScriptedMarket
from meter_gateway import Store, meter_key
from optimizer import best_response
from tests.services import Service, start, start_queue, stop

REPO = Path(__file__).resolve().parents[2]
PROSUMERS = 10  # dev keys 10.. (0 is the operator)
METER = 18  # dev key granted the meter role: the gateway's account
IDLE = 17  # admitted as meter-idle, in no game

# Two sellers, two buyers, one zone; an hour of delivery: four 15-minute intervals.
SCENARIO = Scenario(
    sellers=((30.0, 0.08), (40.0, 0.10)),
    buyers=(10.0, 12.0),
    seller_zones=(0, 0),
    buyer_zones=(0, 0),
    hop_matrix=((0,),),
    delivery_seconds=3600,
)


def play(
    demand: float, prices: Any, caps: Any, others: Any, hops: Any, fee: float, grid: float | None
) -> Any:
    return best_response(
        demand, prices, caps, others, hops, transmission_cost_per_hop=fee, grid_price=grid
    ).x


@dataclass
class Market:
    w3: Web3
    deployment: Deployment
    driver: ScriptedMarket
    prosumers: list[LocalAccount]
    meter: LocalAccount
    queue_url: str
    gateway_url: str
    db: Path
    tmp: Path
    game: int = 0
    tokens: dict[str, str] = field(default_factory=dict)  # meter id -> live token
    services: list[Service] = field(default_factory=list)

    @property
    def settlement(self) -> Any:
        return self.driver.settlement

    def token(self, meter: str) -> str:
        if meter not in self.tokens:
            self.tokens[meter] = Store(self.db).add_token(meter)
        return self.tokens[meter]

    def post(
        self, body: Any, meter: str | None = None, *, token: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if token is None and meter is not None:
            token = self.token(meter)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.post(
            self.gateway_url + "/readings", json=body, headers=headers, timeout=60.0, **kwargs
        )

    def meter_nonce(self) -> int:
        """The meter account's next forwarder nonce, as the queue sees it: it rises with every
        request the gateway queues."""
        answer = httpx.get(f"{self.queue_url}/signers/{self.meter.address}/nonce", timeout=10)
        return int(answer.json()["next_nonce"])

    def readings_posted(self, game: int) -> list[Any]:
        return list(
            self.settlement.events.ReadingPosted.get_logs(
                from_block=self.deployment.block, argument_filters={"gameId": game}
            )
        )

    def snapshot(self) -> tuple[int, int]:
        return self.meter_nonce(), len(self.readings_posted(self.game))

    def diagnostics(self) -> str:
        return "\n".join(f"--- {s.name} ---\n{s.output()}" for s in self.services)


def key_file(path: Path, key: bytes) -> Path:
    path.write_text("0x" + key.hex() + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def market(
    anvil: Anvil,
    w3: Web3,
    dev_accounts: list[LocalAccount],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Market]:
    tmp = tmp_path_factory.mktemp("meter_gateway")
    operator = dev_accounts[0]
    deployment = deploy(w3, operator)
    deployment_file = tmp / "deployment.json"
    deployment.save(deployment_file)
    prosumers = dev_accounts[PROSUMERS : PROSUMERS + SCENARIO.prosumers]
    driver = ScriptedMarket(w3, deployment, operator, prosumers)
    driver.setup(SCENARIO)
    m = driver.market.functions
    meter = dev_accounts[METER]
    driver.send("grantRole", operator, m.grantRole(m.METER_ROLE().call(), meter.address))
    driver.send("admit", operator, m.admit(dev_accounts[IDLE].address, meter_key("meter-idle"), 0))
    # a relay account of its own: this queue never shares nonces with another test's
    relay = Account.create()
    w3.provider.make_request(
        "anvil_setBalance",  # type: ignore[arg-type]
        [relay.address, hex(10**20)],
    )
    queue_port, gateway_port = free_port(), free_port()
    mk = Market(
        w3,
        deployment,
        driver,
        prosumers,
        meter,
        f"http://127.0.0.1:{queue_port}",
        f"http://127.0.0.1:{gateway_port}",
        tmp / "gateway.db",
        tmp,
    )
    Store(mk.db)
    try:
        mk.services.append(
            start_queue(
                anvil.url,
                deployment_file,
                tmp,
                queue_port,
                key_file(tmp / "relay.key", bytes(relay.key)),
            )
        )
        mk.services.append(
            start(
                "meter_gateway",
                [
                    "meter_gateway",
                    "--rpc",
                    anvil.url,
                    "--deployment",
                    str(deployment_file),
                    "--queue",
                    mk.queue_url,
                    "--db",
                    str(mk.db),
                    "--port",
                    str(gateway_port),
                    "--wait",
                    "30",
                ],
                tmp / "meter_gateway.log",
                mk.gateway_url + "/health",
                env={"METER_KEY": "0x" + bytes(meter.key).hex()},
            )
        )
        mk.game = driver.register(SCENARIO)
        driver.play(mk.game, play)
        driver.fix_trades(mk.game)
        yield mk
    finally:
        for service in mk.services:
            stop(service)
