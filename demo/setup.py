"""Set a market up for a scenario: deploy, configure zones and prices, admit one fresh key per
prosumer, give the clock and the meter their roles, and fund the buyers' escrow.

Everything a process needs afterwards is written to a directory: `deployment.json`,
`scenario.json`, `keys/<NAME>.key` (mode 0600) and `cluster.json` (who is who).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from ledger_contracts import Deployment, deploy, kwh_to_wh, price_to_micro, transact
from ledger_contracts.testing import Scenario

MAX_UINT = 2**256 - 1


@dataclass
class Participant:
    name: str  # S001.. sellers, P001.. buyers (the original demo's tags)
    role: str  # "seller" or "buyer"
    address: str
    key_file: str
    kwh: float
    price: float | None = None


@dataclass
class MarketSetup:
    directory: Path
    deployment: Deployment
    scenario: Scenario
    participants: list[Participant]
    clock_key_file: str
    meter_key_file: str

    @property
    def deployment_file(self) -> str:
        return str(self.directory / "deployment.json")

    def names(self) -> dict[str, str]:
        return {p.address: p.name for p in self.participants}

    def to_dict(self) -> dict[str, Any]:
        return {
            "deployment": self.deployment_file,
            "clock_key_file": self.clock_key_file,
            "meter_key_file": self.meter_key_file,
            "participants": [vars(p) for p in self.participants],
        }


def _write_key(directory: Path, name: str, acct: LocalAccount) -> str:
    path = directory / "keys" / f"{name}.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("0x" + bytes(acct.key).hex() + "\n")
    return str(path)


def setup_market(
    w3: Web3, operator: LocalAccount, sc: Scenario, directory: Path, games: int = 1, log: Any = None
) -> MarketSetup:
    log = log or (lambda message: print(f"[DEMO] {message}", flush=True))
    directory.mkdir(parents=True, exist_ok=True)
    deployment = deploy(w3, operator)
    deployment.save(directory / "deployment.json")
    (directory / "scenario.json").write_text(json.dumps(sc.to_dict(), indent=2) + "\n")
    market = deployment.contract(w3, "Market")

    def send(fn: Any) -> None:
        transact(w3, operator, fn)

    send(
        market.functions.setHopDistances(
            len(sc.hop_matrix), [d for row in sc.hop_matrix for d in row]
        )
    )
    send(
        market.functions.setGridPrices(
            price_to_micro(sc.grid_retail), price_to_micro(sc.grid_feed_in)
        )
    )
    send(market.functions.setTransmissionFee(price_to_micro(sc.fee_per_hop)))

    clock, meter = Account.create(), Account.create()
    send(market.functions.grantRole(market.functions.CLOCK_ROLE().call(), clock.address))
    send(market.functions.grantRole(market.functions.METER_ROLE().call(), meter.address))

    participants: list[Participant] = []
    rows: list[tuple[str, float, float | None, int]] = [
        ("seller", kwh, price, zone)
        for (kwh, price), zone in zip(sc.sellers, sc.seller_zones, strict=True)
    ]
    rows += [
        ("buyer", kwh, None, zone) for kwh, zone in zip(sc.buyers, sc.buyer_zones, strict=True)
    ]
    counters = {"seller": 0, "buyer": 0}
    for role, kwh, price, zone in rows:
        counters[role] += 1
        name = f"{'S' if role == 'seller' else 'P'}{counters[role]:03d}"
        acct = Account.create()
        send(market.functions.admit(acct.address, Web3.keccak(text=f"meter-{name}"), zone))
        participants.append(
            Participant(name, role, acct.address, _write_key(directory, name, acct), kwh, price)
        )

    if "GridToken" in deployment.contracts:
        _fund(w3, operator, deployment, sc, participants, games)
    clock_key = _write_key(directory, "clock", clock)
    setup = MarketSetup(
        directory, deployment, sc, participants, clock_key, _write_key(directory, "meter", meter)
    )
    (directory / "cluster.json").write_text(json.dumps(setup.to_dict(), indent=2) + "\n")
    log(
        f"market set up: {len(sc.sellers)} sellers, {len(sc.buyers)} buyers, "
        f"deployment {setup.deployment_file}"
    )
    return setup


def _fund(
    w3: Web3,
    operator: LocalAccount,
    deployment: Deployment,
    sc: Scenario,
    participants: list[Participant],
    games: int,
) -> None:
    """Mint each buyer its worst-case escrow for every game (twice over, for grid imports),
    and let the settlement draw the operator's grid exports from its wallet."""
    token = deployment.contract(w3, "GridToken")
    settlement = deployment.address("Settlement")
    max_hop = max(max(row) for row in sc.hop_matrix)
    worst = price_to_micro(sc.grid_retail) + price_to_micro(sc.fee_per_hop) * max_hop
    for p in participants:
        if p.role == "buyer":
            amount = 2 * games * math.ceil(kwh_to_wh(p.kwh) * worst / 1000)
            transact(w3, operator, token.functions.mint(p.address, amount))
    supply = sum(kwh_to_wh(kwh) for kwh, _ in sc.sellers)
    exports = games * math.ceil(supply * price_to_micro(sc.grid_feed_in) / 1000)
    transact(w3, operator, token.functions.mint(operator.address, exports))
    transact(w3, operator, token.functions.approve(settlement, MAX_UINT))
