"""The project's services as real processes for the tests: started with `python -m` from the
repository, awaited on `/health`, stopped (terminate, then kill)."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from gridgame import NotHealthy, wait_healthy

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Service:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def start(
    name: str,
    args: list[str],
    log: Path,
    health: str,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
) -> Service:
    environ = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=REPO,
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    service = Service(name, proc, log)
    try:
        wait_healthy(health, timeout=timeout, interval=0.05, alive=lambda: proc.poll() is None)
    except NotHealthy as exc:
        stop(service)
        raise RuntimeError(f"{name}: {exc}\n{service.output()}") from exc
    return service


def stop(service: Service) -> None:
    if service.proc.poll() is None:
        service.proc.terminate()
        try:
            service.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            service.proc.kill()
            service.proc.wait(timeout=5)


def start_queue(rpc: str, deployment: Path, tmp: Path, port: int, key_file: Path) -> Service:
    """``python -m tx_queue`` on `port`, its database and log in `tmp`, relaying with the key in
    `key_file`."""
    args = [
        "tx_queue",
        "--rpc",
        rpc,
        "--deployment",
        str(deployment),
        "--db",
        str(tmp / "queue.db"),
    ]
    args += ["--port", str(port), "--key-file", str(key_file)]
    return start("tx_queue", args, tmp / "tx_queue.log", f"http://127.0.0.1:{port}/health")
