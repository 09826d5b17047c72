"""A small JSON-RPC client: explicit timeouts, batches, errors as `NodeDown` / `RpcError`.

The relay makes a few calls per request, and the client's own cost matters (web3.py's
middleware and even httpx cost more CPU than the node spends answering), so the hot path speaks
JSON-RPC over the standard library's `http.client`: one keep-alive connection per thread.
"""

from __future__ import annotations

import http.client
import itertools
import json
import threading
from typing import Any
from urllib.parse import urlsplit

from .errors import NodeDown, RpcError

Call = tuple[str, list[Any]]


class Rpc:
    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) JSON-RPC URL: {url!r}")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()

    def _connection(self, fresh: bool) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None and not fresh:
            return conn
        if conn is not None:
            conn.close()
        cls = (http.client.HTTPSConnection if self._scheme == "https"
               else http.client.HTTPConnection)
        conn = cls(self._host, self._port, timeout=self.timeout)
        self._local.conn = conn
        with self._lock:
            self._all.append(conn)
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
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError) as exc:
                conn.close()
                if attempt == 1:
                    raise NodeDown(f"node at {self.url} unreachable: {exc!r}") from exc
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                raise NodeDown(f"node at {self.url} unreachable: {exc!r}") from exc
        if response.status >= 500 or response.status in (408, 429):
            raise NodeDown(f"node at {self.url} answered HTTP {response.status}")
        try:
            return json.loads(data)
        except ValueError as exc:
            raise NodeDown(f"node at {self.url} answered non-JSON (HTTP {response.status})"
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
