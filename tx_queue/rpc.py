"""A small JSON-RPC client: explicit timeouts, batches, errors as `NodeDown` / `RpcError`.

The relay makes a few calls per request; web3.py's middleware costs more than the calls
themselves, so the hot path speaks JSON-RPC directly over one pooled, thread-safe httpx client.
"""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from .errors import NodeDown, RpcError

Call = tuple[str, list[Any]]


class Rpc:
    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self._ids = itertools.count(1)
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )

    def close(self) -> None:
        self._http.close()

    def _post(self, body: Any) -> Any:
        try:
            response = self._http.post(self.url, json=body)
        except httpx.HTTPError as exc:
            raise NodeDown(f"node at {self.url} unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise NodeDown(f"node at {self.url} answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise NodeDown(f"node at {self.url} answered non-JSON (HTTP {response.status_code})"
                           ) from exc

    def call(self, method: str, params: list[Any]) -> Any:
        """One call; its result, or `RpcError` for a JSON-RPC error answer."""
        answer = self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method,
                             "params": params})
        return _result(answer)

    def batch(self, calls: list[Call]) -> list[Any]:
        """Several calls in one round trip; each item is a result or an `RpcError` instance."""
        if not calls:
            return []
        first = next(self._ids)
        body = [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p}
                for i, (m, p) in enumerate(calls)]
        for _ in range(len(calls) - 1):
            next(self._ids)
        answer = self._post(body)
        if not isinstance(answer, list):  # some nodes answer a single error to a bad batch
            raise NodeDown(f"node at {self.url} did not answer the batch: {answer!r:.200}")
        by_id = {item.get("id"): item for item in answer if isinstance(item, dict)}
        out: list[Any] = []
        for i in range(len(calls)):
            item = by_id.get(first + i)
            if item is None:
                raise NodeDown(f"node at {self.url} left call {calls[i][0]} out of a batch")
            try:
                out.append(_result(item))
            except RpcError as exc:
                out.append(exc)
        return out


def _result(answer: Any) -> Any:
    if not isinstance(answer, dict):
        raise NodeDown(f"unexpected JSON-RPC answer: {answer!r:.200}")
    if "error" in answer and answer["error"] is not None:
        err = answer["error"]
        raise RpcError(int(err.get("code", 0)), str(err.get("message", "")), err.get("data"))
    return answer.get("result")


def revert_data(exc: RpcError) -> str | None:
    """The revert data of an `eth_call`/`eth_estimateGas` error, if it is a revert."""
    data = exc.data
    if isinstance(data, dict):  # some nodes nest it
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return data
    if exc.code == 3 or "revert" in exc.message.lower():
        return "0x"
    return None
