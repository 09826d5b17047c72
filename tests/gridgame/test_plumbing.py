"""The shared plumbing on its own: log shapes, the rate limiter, waiting for health against a
real service process."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gridgame import (
    JsonFormatter,
    NotHealthy,
    RateLimited,
    TextFormatter,
    fields,
    log_config,
    wait_healthy,
)
from ledger_contracts import free_port

ROOT = Path(__file__).resolve().parents[2]


def _record(**extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"name": "tx_queue.submitter", "levelname": "INFO", "msg": "batch %s sent", "args": (7,)}
    )
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_the_message_and_both_kinds_of_field() -> None:
    line = JsonFormatter().format(_record(port=8081, **fields(requests=40)))
    entry = json.loads(line)
    assert entry["message"] == "batch 7 sent" and entry["level"] == "info"
    assert entry["logger"] == "tx_queue.submitter" and entry["time"].endswith("Z")
    assert entry["port"] == 8081 and entry["requests"] == 40 and "_fields" not in entry


def test_text_lines_have_the_original_shape() -> None:
    line = TextFormatter("CLOCK").format(_record())
    assert line.startswith("[CLOCK] [") and line.endswith("] info: batch 7 sent")


def test_the_access_log_follows_the_level() -> None:
    quiet = log_config(["optimizer"], "warning", access_log=True)["loggers"]
    assert quiet["uvicorn.access"]["level"] == quiet["optimizer"]["level"] == "WARNING"
    loud = log_config(["optimizer"], "info", access_log=True)["loggers"]
    assert loud["uvicorn.access"]["level"] == "INFO"
    text = log_config(["market_clock"], "info", fmt="text", tag="CLOCK")
    assert text["loggers"]["uvicorn.error"]["level"] == "WARNING"  # no server chatter
    assert text["formatters"]["main"]["tag"] == "CLOCK"


def test_rate_limited_is_due_at_once_then_once_per_period() -> None:
    limit = RateLimited(every=0.2)
    assert limit.due() and not limit.due()
    time.sleep(0.25)
    assert limit.due()


def test_wait_healthy_is_bounded() -> None:
    url = f"http://127.0.0.1:{free_port()}/health"  # nothing listens there
    start = time.monotonic()
    with pytest.raises(NotHealthy, match="within 0.5 s"):
        wait_healthy(url, timeout=0.5, interval=0.05)
    assert time.monotonic() - start < 3
    with pytest.raises(NotHealthy, match="exited"):
        wait_healthy(url, timeout=30, alive=lambda: False, name="the queue")


def test_wait_healthy_returns_the_body_once_ready() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/health"
        body = wait_healthy(
            url, timeout=30, alive=lambda: proc.poll() is None, ready=lambda b: b["status"] == "ok"
        )
        assert body == {"status": "ok", "service": "optimizer"}
        with pytest.raises(NotHealthy, match="not ready"):
            wait_healthy(url, timeout=0.3, ready=lambda b: b["status"] == "degraded")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_gridgame_stands_on_its_own() -> None:
    """Every service imports it, the optimizer included: no web3, no solver, no service."""
    code = (
        "import sys, gridgame; print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'web3', 'eth_account', 'numpy', 'scipy', 'ledger_contracts', 'optimizer', "
        "'tx_queue', 'market_clock', 'prosumer_client', 'demo'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
