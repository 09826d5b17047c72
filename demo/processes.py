"""The demo's child processes: started with their output interleaved on our stdout, waited for
until healthy, and all stopped on exit, error or Ctrl-C (and, on Linux, if the demo dies)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx

_PR_SET_PDEATHSIG = 1


class ClusterError(Exception):
    """A child process failed to start or died while it was needed."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    pump: threading.Thread | None = None


class Cluster:
    """Starts and supervises named processes; `with Cluster() as c:` stops them all."""

    def __init__(self, out: IO[str] = sys.stdout, echo: bool = True,
                 log_dir: Path | None = None) -> None:
        """`echo`: interleave every child's output on `out`; `log_dir`: also write each
        child's output to `<log_dir>/<name>.log` (kept after the run, for inspection)."""
        self.out = out
        self.echo = echo
        self.log_dir = log_dir
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
        self.children: dict[str, Child] = {}
        self._lock = threading.Lock()

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Child:
        proc = subprocess.Popen(
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        child = Child(name, list(argv), proc)
        self.children[name] = child
        child.pump = threading.Thread(target=self._pump, args=(child,), daemon=True)
        child.pump.start()
        return child

    def _pump(self, child: Child) -> None:
        assert child.proc.stdout is not None
        log = (open(self.log_dir / f"{child.name}.log", "a", buffering=1)  # noqa: SIM115
               if self.log_dir is not None else None)
        try:
            with child.proc.stdout:  # closed at the child's end of output
                for line in child.proc.stdout:
                    line = line.rstrip("\n")
                    child.lines.append(line)
                    if log is not None:
                        log.write(line + "\n")
                    if self.echo:
                        with self._lock:
                            print(line, file=self.out, flush=True)
        finally:
            if log is not None:
                log.close()

    def wait_healthy(self, name: str, url: str, timeout: float = 30.0) -> None:
        """Poll `url` until it answers 200; fail early if the process exits."""
        child = self.children[name]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if child.proc.poll() is not None:
                tail = "\n  ".join(child.lines[-10:])
                raise ClusterError(f"{name} exited with code {child.proc.returncode}:\n  {tail}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise ClusterError(f"{name} did not become healthy at {url} within {timeout:.0f} s")

    def wait_line(self, names: list[str], text: str, timeout: float) -> None:
        """Wait until each named process has printed a line containing `text`."""
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending:
            self.check_alive(*pending)
            pending = [n for n in pending if not any(text in ln for ln in self.children[n].lines)]
            if pending and time.monotonic() > deadline:
                raise ClusterError(f"{len(pending)} process(es) not ready within {timeout:.0f} s "
                                   f"(no {text!r} line): {', '.join(pending[:10])}")
            time.sleep(0.1)

    def check_alive(self, *names: str) -> None:
        for name in names or tuple(self.children):
            child = self.children[name]
            if child.proc.poll() is not None and child.proc.returncode != 0:
                tail = "\n  ".join(child.lines[-10:])
                raise ClusterError(f"{name} died with code {child.proc.returncode}:\n  {tail}")

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 5.0) -> None:
        child = self.children.get(name)
        if child is None or child.proc.poll() is not None:
            return
        child.proc.send_signal(sig)
        try:
            child.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.proc.kill()
            child.proc.wait(timeout=timeout)
        if child.pump is not None:
            child.pump.join(timeout=timeout)

    def stop_all(self) -> None:
        alive = [c for c in self.children.values() if c.proc.poll() is None]
        for child in reversed(alive):
            child.proc.terminate()
        deadline = time.monotonic() + 5.0
        for child in alive:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()
        for child in self.children.values():
            if child.pump is not None:
                child.pump.join(timeout=5.0)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop_all()
