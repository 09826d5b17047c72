"""Deploy the project's contracts to any RPC endpoint and describe them in a deployment file.

A deployment file is JSON: chain id, the block of the first deployment, the operator, and the
address of every contract by name. Everything that talks to the ledger loads contracts from it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract

from .artifacts import load_artifact
from .chain import transact
from .errors import DeploymentError


@dataclass
class Deployment:
    chain_id: int
    block: int
    operator: str
    contracts: dict[str, str] = field(default_factory=dict)

    def address(self, name: str) -> str:
        try:
            return self.contracts[name]
        except KeyError:
            raise DeploymentError(
                f"the deployment has no contract {name!r} (it has: {', '.join(self.contracts)})"
            ) from None

    def contract(self, w3: Web3, name: str) -> Contract:
        address = Web3.to_checksum_address(self.address(name))
        return w3.eth.contract(address=address, abi=cast(Any, load_artifact(name).abi))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Deployment:
        p = Path(path)
        if not p.is_file():
            raise DeploymentError(
                f"deployment file {p} not found; deploy first (`python -m ledger_contracts deploy`)"
            )
        try:
            data: dict[str, Any] = json.loads(p.read_text())
            return cls(
                chain_id=int(data["chain_id"]),
                block=int(data["block"]),
                operator=str(data["operator"]),
                contracts=dict(data["contracts"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise DeploymentError(f"deployment file {p} is malformed: {exc}") from exc

    def check_chain(self, w3: Web3) -> None:
        actual = w3.eth.chain_id
        if actual != self.chain_id:
            raise DeploymentError(
                f"deployment is for chain {self.chain_id} but the node is chain {actual}"
            )


def deploy_contract(w3: Web3, signer: LocalAccount, name: str, *args: Any) -> Contract:
    art = load_artifact(name)
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    receipt = cast(dict[str, Any], transact(w3, signer, factory.constructor(*args)))
    return w3.eth.contract(address=receipt["contractAddress"], abi=cast(Any, art.abi))


MAX_UINT256 = 2**256 - 1


def deploy(w3: Web3, operator: LocalAccount) -> Deployment:
    """Deploy the forwarder, the market, the settlement token and the settlement, with
    `operator` as the market's admin, the token's owner and the grid's counterparty.

    The settlement is set on the market before any game (so every demand is escrowed), and
    the operator allows it to draw grid exports from the operator's wallet without limit: the
    operator funds exports by holding tokens (`docs/settlement.md`). Roles for the clock and the
    meters are granted afterwards by whoever sets the market up.
    """
    first_block = w3.eth.block_number + 1
    forwarder = deploy_contract(w3, operator, "GridForwarder")
    market = deploy_contract(w3, operator, "Market", operator.address, forwarder.address)
    token = deploy_contract(w3, operator, "GridToken", operator.address, forwarder.address)
    settlement = deploy_contract(
        w3,
        operator,
        "Settlement",
        market.address,
        token.address,
        operator.address,
        forwarder.address,
    )
    transact(w3, operator, market.functions.setSettlement(settlement.address))
    transact(w3, operator, token.functions.approve(settlement.address, MAX_UINT256))
    return Deployment(
        chain_id=w3.eth.chain_id,
        block=first_block,
        operator=operator.address,
        contracts={
            "GridForwarder": forwarder.address,
            "Market": market.address,
            "GridToken": token.address,
            "Settlement": settlement.address,
        },
    )
