"""The demo's restart policy, as compose's `restart: on-failure` with Docker's backoff: a child
that exits with a non-zero status (a crash, a `kill -9`) is started again after a delay that
doubles with every restart within the window; a child that exits 0 is done and stays down.
Once a child has been restarted `limit` times within `window` seconds, its next crash stops the
market, with the reason.

The queue is crash-safe (it reopens its database and finishes what it accepted), the clock is
stateless (it reads the chain), an agent catches up from the chain and the meter posts what is
missing: each of them can be started again with the same flags."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class RestartPolicy:
    limit: int = 5  # restarts of one child allowed within `window`
    window: float = 60.0  # seconds
    delay: float = 1.0  # seconds before the first restart; doubled for each one in the window
    max_delay: float = 30.0

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError("--restart-limit must be at least 1 (--no-restart: none)")
        if self.window <= 0 or self.delay < 0 or self.max_delay < self.delay:
            raise ValueError("--restart-window must be > 0 and --restart-delay >= 0")

    def recent(self, restarts: list[float], now: float) -> int:
        """How many of these restart times lie within the window before `now`."""
        return sum(1 for t in restarts if now - t < self.window)

    def delay_after(self, recent: int) -> float | None:
        """Seconds to wait before the next restart, given `recent` restarts in the window;
        None once the limit is reached: the market stops."""
        if recent >= self.limit:
            return None
        return min(self.delay * 2**recent, self.max_delay)

    def describe(self, recent: int, delay: float) -> str:
        return (f"restarting in {delay:g} s (restart {recent + 1} of {self.limit} in "
                f"{self.window:g} s)")


def write_table(path: Path, rows: dict[str, dict[str, Any]]) -> None:
    """The process table (`<workdir>/processes.json`): every child's current PID, its
    restarts and whether it runs; rewritten whole (then renamed) at every start."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"demo": os.getpid(), "processes": rows}, indent=2) + "\n")
    os.replace(tmp, path)
