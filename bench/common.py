"""Small helpers shared by the benchmarks (a results file, a printed table) and, with the
optimizer's tests, the optimizer service on a free port (`optimizer_service`)."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from gridgame import NotHealthy, wait_healthy
from ledger_contracts import free_port
from optimizer import best_response

RESULTS = Path(__file__).parent / "results"


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    meta = {
        "benchmark": name,
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    path.write_text(json.dumps({**meta, **data}, indent=2) + "\n")
    print(f"results written to {path}")
    return path


def print_table(headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@contextlib.contextmanager
def optimizer_service(
    env: dict[str, str] | None = None,
    stderr: IO[str] | int = subprocess.DEVNULL,
    timeout: float = 30.0,
) -> Iterator[str]:
    """``python -m optimizer`` on a free port with `env` added to ours, until it answers
    ``/health``: yields its URL, and stops it on exit. `RuntimeError` if it does not start
    within `timeout` seconds."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_healthy(f"{url}/health", timeout=timeout, alive=lambda: proc.poll() is None)
        except NotHealthy as exc:
            raise RuntimeError(
                f"the optimizer service did not start (exit code {proc.poll()}): {exc}"
            ) from exc
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def optimizer_response(
    demand: float,
    prices: Sequence[float],
    caps: Sequence[float],
    others: Sequence[float],
    hops: Sequence[float],
    fee: float,
    grid: float | None,
) -> Sequence[float]:
    """The scripted driver's best response: the optimizer library, in process."""
    return list(
        best_response(
            demand, prices, caps, others, hops, transmission_cost_per_hop=fee, grid_price=grid
        ).x
    )
