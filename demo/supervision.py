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
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .processes import Child, Cluster


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
        return (
            f"restarting in {delay:g} s (restart {recent + 1} of {self.limit} in {self.window:g} s)"
        )


class Supervisor(threading.Thread):
    """Looks after a cluster's supervised children until `finished` is set (after `stop_all`:
    children die with the thread that started them, PR_SET_PDEATHSIG). It restarts a crashed
    one after its delay, says so on the screen, and sets `cluster.failure` once one crashed
    too often."""

    def __init__(
        self,
        cluster: Cluster,
        policy: RestartPolicy,
        lock: threading.RLock,
        finished: threading.Event,
        interval: float = 0.05,
    ) -> None:
        super().__init__(name="supervisor", daemon=True)
        self.cluster = cluster
        self.policy = policy
        self.lock = lock  # the cluster's: starts, restarts and stops never overlap
        self.finished = finished
        self.interval = interval

    def run(self) -> None:
        while not self.finished.wait(self.interval):
            with self.lock:
                if self.cluster.closing or self.cluster.failure is not None:
                    continue
                for child in list(self.cluster.children.values()):
                    if child.respawn is not None and not (child.stopped or child.done):
                        try:
                            self.look_after(child, time.monotonic())
                        except Exception as exc:  # it counts as a restart that crashed
                            child.restarts.append(time.monotonic())
                            child.due = None
                            self.cluster.say(
                                f"{child.name} could not be restarted: {type(exc).__name__}: {exc}"
                            )

    def look_after(self, child: Child, now: float) -> None:
        assert child.respawn is not None
        say, policy = self.cluster.say, self.policy
        if child.due is None:
            if child.proc.poll() == 0:
                child.done = True
                return
            code = child.crashed()
            if code is None:
                return
            recent = policy.recent(child.restarts, now)
            delay = policy.delay_after(recent)
            if delay is None:
                self.cluster.failure = (
                    f"{child.name} exited ({code}) after {recent} restarts within "
                    f"{policy.window:g} s; the market stops. Its last line: {child.last_words()}"
                )
                say(
                    f"{child.name} exited ({code}); {recent} restarts within {policy.window:g} s "
                    "already: the market stops"
                )
                return
            say(f"{child.name} exited ({code}); {policy.describe(recent, delay)}")
            child.due = now + delay
        elif now >= child.due:
            child.due = None
            argv = child.respawn()
            if argv is None:
                child.done = True
                say(f"{child.name} not restarted: nothing is left for it to do")
                return
            self.cluster.respawn(child, argv)
            say(f"{child.name} restarted (pid {child.proc.pid})")


def write_table(path: Path, rows: dict[str, dict[str, Any]]) -> None:
    """The process table (`<workdir>/processes.json`): every child's current PID, its
    restarts and whether it runs; rewritten whole (then renamed) at every start."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"demo": os.getpid(), "processes": rows}, indent=2) + "\n")
    os.replace(tmp, path)
