"""Real and simulated chain time against a real Anvil, and a node that refuses time control."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from web3 import Web3

from ledger_contracts import Anvil, connect
from market_clock.errors import StartupError
from market_clock.time import RealTime, SimulatedTime, block_times, controls_time


class Wall:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def latest(w3: Web3) -> int:
    return block_times(w3)[0]


def test_simulated_time_runs_at_speed_holds_and_jumps(w3: Web3) -> None:
    wall = Wall()
    sim = SimulatedTime(w3, 100.0, wall=wall)
    sim.advance(None)  # starts from the chain's own time
    start = latest(w3)
    wall.t = 2.0
    sim.advance(None)
    assert start + 199 <= latest(w3) <= start + 202
    wall.t = 3.0
    sim.advance(hold=latest(w3) + 10)  # held: only 10 s of the 100
    held = latest(w3)
    wall.t = 10.0
    sim.advance(hold=held)
    assert latest(w3) == held
    sim.advance(hold=held - 500)  # a hold in the past never moves time back
    assert latest(w3) == held
    wall.t = 11.0
    sim.advance(None)  # released: on from where it was held, no catching up
    assert held + 99 <= latest(w3) <= held + 102
    sim.jump(latest(w3) + 5000)
    target = latest(w3)
    assert sim.now() >= target
    sim.jump(target - 100)  # never backwards
    assert latest(w3) == target


def test_real_time_only_reads_and_freshens_on_a_dev_chain(w3: Web3) -> None:
    real = RealTime(w3, dev_chain=controls_time(w3))
    assert real.dev_chain
    before = latest(w3)
    real.advance(None)
    real.jump(before + 10_000)
    assert latest(w3) == before
    assert real.now() >= before
    number = w3.eth.block_number
    real.freshen(latest(w3) + 1)  # the latest block is older than needed: one empty block
    assert w3.eth.block_number == number + 1
    real.freshen(latest(w3))  # fresh enough: nothing mined
    assert w3.eth.block_number == number + 1


@pytest.fixture
def refusing_node(anvil: Anvil) -> Iterator[str]:
    """A JSON-RPC proxy to Anvil that refuses evm_* methods, as a production node would."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if str(body.get("method", "")).startswith("evm_"):
                answer = {
                    "jsonrpc": "2.0",
                    "id": body.get("id"),
                    "error": {"code": -32601, "message": "Method not found"},
                }
            else:
                answer = httpx.post(anvil.url, json=body, timeout=5).json()
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_speed_above_one_is_refused_on_a_chain_without_time_control(
    refusing_node: str,
) -> None:
    w3 = connect(refusing_node)
    assert not controls_time(w3)
    with pytest.raises(
        StartupError,
        match=r"--speed 20 needs a chain whose clock can be "
        r"moved .* Run with --speed 1",
    ):
        SimulatedTime.checked(w3, 20.0)
    real = RealTime(w3, dev_chain=False)
    before = latest(w3)
    real.freshen(before + 100)  # not a dev chain: never mines
    assert latest(w3) == before
