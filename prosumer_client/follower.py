"""Following the deployment's contract events as they are mined.

Two ways, the same events (a test checks it):

* by block range (`use_filter=False`, what `play` does by default): `eth_blockNumber` on every
  poll, and `eth_getLogs` over the blocks after the last one seen when the head moved. Nothing
  is kept on the node, so nothing is lost when it restarts or drops state. In a 200 x 20 market
  on Anvil, a quarter of the agents following with filters never saw one block's events
  (RegistrationClosed and the first TurnStarted), for reasons we could not pin down on Anvil's
  side; by block range, none missed anything.
* with a log filter (`eth_newFilter` over the deployment's addresses, polled with
  `eth_getFilterChanges`): one request per poll answering the new logs themselves. If the node
  drops the filter (restart, idle timeout) the follower installs a new one and fills the gap
  with `eth_getLogs`; a node without filters is followed by block range.

Logs are decoded here with eth_abi from the build's ABIs into `ledger_contracts.Event`.
Chains the market runs on (Anvil, QBFT) have immediate finality: no reorganisation handling.
"""

from __future__ import annotations

import contextlib
from typing import Any

from eth_abi import decode as abi_decode
from web3 import Web3

from ledger_contracts import Deployment, Event, Rpc, RpcError, abi_type, load_artifact

CHUNK = 5_000  # blocks per eth_getLogs when filling a gap
_COMPLETE = 1 << 62  # a log index past any: the block's every event was delivered


class LogDecoder:
    """Raw JSON-RPC logs -> `Event`s, for every event of a deployment's contracts."""

    def __init__(self, deployment: Deployment) -> None:
        self._events: dict[tuple[str, bytes], tuple[str, str, list[dict[str, Any]]]] = {}
        for contract, address in deployment.contracts.items():
            for abi in load_artifact(contract).abi:
                if abi.get("type") != "event" or abi.get("anonymous"):
                    continue
                inputs = list(abi["inputs"])
                signature = f"{abi['name']}({','.join(abi_type(i) for i in inputs)})"
                self._events[(address.lower(), Web3.keccak(text=signature))] = (
                    contract,
                    abi["name"],
                    inputs,
                )

    def decode(self, log: dict[str, Any]) -> Event | None:
        topics = [bytes.fromhex(t[2:]) for t in log.get("topics") or ()]
        if not topics or log.get("removed"):
            return None
        found = self._events.get((str(log["address"]).lower(), topics[0]))
        if found is None:
            return None
        contract, name, inputs = found
        indexed = [i for i in inputs if i.get("indexed")]
        plain = [i for i in inputs if not i.get("indexed")]
        values: dict[str, Any] = {}
        for param, topic in zip(indexed, topics[1:], strict=False):
            kind = abi_type(param)
            dynamic = kind in ("string", "bytes") or kind.endswith("]") or kind.startswith("(")
            values[param["name"]] = topic if dynamic else abi_decode([kind], topic)[0]
        data = bytes.fromhex(str(log.get("data") or "0x")[2:])
        for param, value in zip(plain, abi_decode([abi_type(p) for p in plain], data), strict=True):
            values[param["name"]] = value
        args = {i["name"]: _plain(i, values[i["name"]]) for i in inputs if i["name"] in values}
        return Event(
            block=int(log["blockNumber"], 16),
            tx=str(log["transactionHash"]),
            log_index=int(log["logIndex"], 16),
            contract=contract,
            name=name,
            args=args,
        )


def _plain(param: dict[str, Any], value: Any) -> Any:
    if param["type"] == "address":
        return Web3.to_checksum_address(value)
    if isinstance(value, tuple) and param["type"].endswith("]"):
        return list(value)
    return value


class Follower:
    def __init__(
        self,
        rpc: Rpc,
        deployment: Deployment,
        *,
        from_block: int | None = None,
        use_filter: bool = True,
    ) -> None:
        """Events after `from_block` (default: the current head, i.e. only new ones)."""
        self.rpc = rpc
        self.decoder = LogDecoder(deployment)
        self.addresses = list(deployment.contracts.values())
        self.use_filter = use_filter
        head = rpc.block_number() if from_block is None else from_block
        self._seen = (head, _COMPLETE)  # (block, log index) of the last event delivered
        self._filter: str | None = None

    @property
    def last_block(self) -> int:
        return self._seen[0]

    def poll(self) -> list[Event]:
        """The events mined since the last poll, in chain order."""
        if not self.use_filter:
            head = self.rpc.block_number()
            return self._fill(head)
        if self._filter is None:
            return self._install()
        try:
            logs = self.rpc.call("eth_getFilterChanges", [self._filter])
        except RpcError:  # the node forgot the filter: a new one, and fill the gap
            self._filter = None
            return self._install()
        return self._deliver(logs or [])

    def close(self) -> None:
        if self._filter is not None:
            with contextlib.suppress(Exception):  # the node drops idle filters anyway
                self.rpc.call("eth_uninstallFilter", [self._filter])
            self._filter = None

    def _install(self) -> list[Event]:
        try:
            self._filter = str(
                self.rpc.call("eth_newFilter", [{"address": self.addresses, "fromBlock": "latest"}])
            )
        except RpcError:  # no filters on this node: poll the head instead
            self.use_filter = False
        return self._fill(self.rpc.block_number())

    def _fill(self, head: int) -> list[Event]:
        """Every event of the blocks after the last one seen up to `head` (eth_getLogs)."""
        logs: list[dict[str, Any]] = []
        block, index = self._seen
        for lo in range(block + 1 if index == _COMPLETE else block, head + 1, CHUNK):
            hi = min(lo + CHUNK - 1, head)
            logs += self.rpc.call(
                "eth_getLogs",
                [{"address": self.addresses, "fromBlock": hex(lo), "toBlock": hex(hi)}],
            )
        events = self._deliver(logs)
        self._seen = max(self._seen, (head, _COMPLETE))  # those blocks are complete
        return events

    def _deliver(self, logs: list[dict[str, Any]]) -> list[Event]:
        events = []
        for log in logs:
            event = self.decoder.decode(log)
            if event is None or (event.block, event.log_index) <= self._seen:
                continue
            events.append(event)
        events.sort(key=lambda e: (e.block, e.log_index))
        if events:
            self._seen = max(self._seen, (events[-1].block, events[-1].log_index))
        return events
