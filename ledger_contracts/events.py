"""Reading and printing the project's contract events, in chain order.

Logs are fetched with `eth_getLogs` in block chunks over every project contract address and
decoded with the ABIs from the build output.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import ContractEvent

from .deployment import Deployment

CHUNK = 5_000  # blocks per eth_getLogs request


@dataclass(frozen=True)
class Event:
    block: int
    tx: str
    log_index: int
    contract: str
    name: str
    args: dict[str, Any]

    @property
    def game(self) -> int | None:
        value = self.args.get("gameId")
        return int(value) if value is not None else None

    def to_json(self) -> str:
        return json.dumps(
            {
                "block": self.block,
                "tx": self.tx,
                "logIndex": self.log_index,
                "contract": self.contract,
                "event": self.name,
                "args": _plain(self.args),
            }
        )

    def to_text(self) -> str:
        args = "  ".join(f"{k}={_short(v)}" for k, v in _plain(self.args).items())
        return f"#{self.block:<7} {self.contract}.{self.name:<22} {args}"


class EventReader:
    """Decodes every event of a deployment's contracts."""

    def __init__(self, w3: Web3, deployment: Deployment) -> None:
        self.w3 = w3
        self.deployment = deployment
        self._by_topic: dict[tuple[str, bytes], tuple[str, ContractEvent]] = {}
        self._addresses: list[Any] = []
        for name, address in deployment.contracts.items():
            contract = deployment.contract(w3, name)
            self._addresses.append(address)
            for abi in cast(list[dict[str, Any]], contract.abi):
                if abi.get("type") != "event" or abi.get("anonymous"):
                    continue
                event = contract.events[abi["name"]]()
                self._by_topic[(address.lower(), bytes(HexBytes(event.topic)))] = (name, event)

    def read(
        self, from_block: int | None = None, to_block: int | None = None, game: int | None = None
    ) -> Iterator[Event]:
        start = self.deployment.block if from_block is None else from_block
        end = self.w3.eth.block_number if to_block is None else to_block
        for lo in range(start, end + 1, CHUNK):
            hi = min(lo + CHUNK - 1, end)
            logs = self.w3.eth.get_logs(
                {"fromBlock": lo, "toBlock": hi, "address": self._addresses}
            )
            for log in logs:
                event = self._decode(log)
                if event is not None and (game is None or event.game == game):
                    yield event

    def _decode(self, log: Any) -> Event | None:
        if not log["topics"]:
            return None
        key = (str(log["address"]).lower(), bytes(log["topics"][0]))
        found = self._by_topic.get(key)
        if found is None:
            return None
        contract_name, event = found
        decoded = event.process_log(log)
        return Event(
            block=int(log["blockNumber"]),
            tx=HexBytes(log["transactionHash"]).to_0x_hex(),
            log_index=int(log["logIndex"]),
            contract=contract_name,
            name=decoded["event"],
            args=dict(decoded["args"]),
        )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def _short(value: Any) -> str:
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return value[:8] + "…" + value[-4:]
    if isinstance(value, list):
        return "[" + ",".join(_short(v) for v in value) + "]"
    return str(value)
