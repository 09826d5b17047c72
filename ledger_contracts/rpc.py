"""The project's JSON-RPC client: stdlib `http.client` with one kept-alive connection per
thread, an explicit timeout, batches, and `eth_call`s whose reverts are decoded.

The queue and the agents make many small calls, and the client's own cost matters (web3.py's
middleware, even httpx, cost more CPU than the node spends answering: a call here costs about
0.2 ms of CPU where a web3.py contract call costs about 7 ms), so this speaks JSON-RPC itself.

    rpc = Rpc("http://127.0.0.1:8545", timeout=5.0)
    rpc.call("eth_blockNumber", [])                      # "0x1a"
    rpc.batch([("eth_chainId", []), ("eth_gasPrice", [])])  # results or RpcError instances
    rpc.eth_call(market, "0x...")                        # bytes; a revert raises LedgerRevert

Errors: `NodeUnavailable` (connection, timeout, HTTP 5xx/408/429, not JSON-RPC), `RpcError`
(the node's JSON-RPC error), `LedgerRevert` (a reverted `eth_call`, decoded).
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from .abi import decode_revert
from .errors import LedgerError, NodeUnavailable, RpcError

RpcCall = tuple[str, list[Any]]  # (method, params)
DEFAULT_TIMEOUT = 10.0  # seconds, for every request


class Rpc:
    """Thread-safe: each thread keeps its own connection."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LedgerError(f"RPC URL {url!r} must be http:// or https://")
        self.url = url
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._generation = 0  # bumped by close()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close every thread's connection; a later call opens a new one."""
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
            self._generation += 1  # every thread's connection is stale now

    # ------------------------------------------------------------------ calls

    def call(self, method: str, params: list[Any]) -> Any:
        """One call; its result, or `RpcError` for a JSON-RPC error answer."""
        answer = self._post(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        )
        return _result(answer, method)

    def batch(self, calls: Sequence[RpcCall]) -> list[Any]:
        """Several calls in one round trip; each item is a result or an `RpcError` instance."""
        if not calls:
            return []
        first = next(self._ids)
        body = [
            {"jsonrpc": "2.0", "id": first + i, "method": m, "params": p}
            for i, (m, p) in enumerate(calls)
        ]
        for _ in range(len(calls) - 1):
            next(self._ids)
        answer = self._post(body)
        if not isinstance(answer, list):  # some nodes answer a single error to a bad batch
            raise NodeUnavailable(f"node at {self.url} did not answer the batch: {answer!r:.200}")
        by_id = {item.get("id"): item for item in answer if isinstance(item, dict)}
        out: list[Any] = []
        for i, (method, _) in enumerate(calls):
            item = by_id.get(first + i)
            if item is None:
                raise NodeUnavailable(
                    f"node at {self.url} left call {i + 1} ({method}) out of "
                    f"a batch of {len(calls)}"
                )
            try:
                out.append(_result(item, method))
            except RpcError as exc:
                out.append(exc)
        return out

    def eth_call(self, to: str, data: str, block: str | int = "latest") -> bytes:
        """`eth_call` at `block`; a revert raises `LedgerRevert` (decoded)."""
        try:
            result = self.call("eth_call", [{"to": to, "data": data}, _block(block)])
        except RpcError as exc:
            raise _revert_or(exc) from exc
        return bytes.fromhex(str(result)[2:])

    def eth_calls(
        self, calls: Sequence[tuple[str, str]], block: str | int = "latest"
    ) -> list[bytes]:
        """Many `eth_call`s (to, data) at `block` in one JSON-RPC batch; the first revert
        raises `LedgerRevert` (decoded)."""
        tag = _block(block)
        out = []
        for answer in self.batch(
            [("eth_call", [{"to": to, "data": data}, tag]) for to, data in calls]
        ):
            if isinstance(answer, RpcError):
                raise _revert_or(answer) from answer
            out.append(bytes.fromhex(str(answer)[2:]))
        return out

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber", []), 16)

    # ------------------------------------------------------------------ transport

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None and not fresh and self._local.generation == self._generation:
            return conn  # the hot path: no lock
        with self._lock:
            if conn is not None:
                conn.close()
                if conn in self._all:
                    self._all.remove(conn)
            cls = (
                http.client.HTTPSConnection
                if self._scheme == "https"
                else http.client.HTTPConnection
            )
            conn = cls(self._host, self._port, timeout=self.timeout)
            self._all.append(conn)
            self._local.generation = self._generation
        self._local.conn = conn
        return conn

    def _post(self, body: Any) -> Any:
        payload = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        for attempt in (0, 1):  # a kept-alive connection the node closed is retried once
            conn = self._connection(fresh=attempt == 1)
            try:
                conn.request("POST", self._path, payload, headers)
                response = conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                conn.close()
                if attempt == 1:
                    raise NodeUnavailable(f"node at {self.url} unreachable: {exc!r}") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise NodeUnavailable(f"node at {self.url} unreachable: {exc!r}") from exc
        if response.status >= 500 or response.status in (408, 429):
            raise NodeUnavailable(f"node at {self.url} answered HTTP {response.status}")
        try:
            return json.loads(data)
        except ValueError as exc:
            raise NodeUnavailable(
                f"node at {self.url} answered non-JSON (HTTP {response.status}): {data[:200]!r}"
            ) from exc


def _result(answer: Any, method: str) -> Any:
    if not isinstance(answer, dict):
        raise NodeUnavailable(f"unexpected JSON-RPC answer to {method}: {answer!r:.200}")
    err = answer.get("error")
    if err is not None:
        if not isinstance(err, dict):
            raise RpcError(0, str(err), method=method)
        raise RpcError(
            int(err.get("code", 0)), str(err.get("message", "")), err.get("data"), method=method
        )
    return answer.get("result")


def _block(block: str | int) -> str:
    return hex(block) if isinstance(block, int) else block


def _revert_or(exc: RpcError) -> LedgerError:
    """The decoded revert an `eth_call` error carries, or the error itself."""
    data = revert_data(exc)
    return exc if data is None else decode_revert(data)


def revert_data(exc: RpcError) -> str | None:
    """The revert data of an `eth_call`/`eth_estimateGas` error, if it is a revert ("0x" for
    a revert without data)."""
    data = exc.data
    if isinstance(data, dict):  # some nodes nest it
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return data
    if exc.code == 3 or "revert" in exc.message.lower():
        return "0x"
    return None
