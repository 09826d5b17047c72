"""The demo's child processes: started with their human lines (``[TAG] ...``) interleaved on our
stdout and all their output in ``<log_dir>/<name>.log``, waited for until healthy, and all
stopped on exit, error or Ctrl-C (and, on Linux, if the demo dies): clients first, then the
services they talk to, so that none of them sees its server vanish mid-request.

Children run in their own session: a Ctrl-C at the terminal reaches the demo only, which then
stops them in order, rather than every process at once (each printing its own traceback)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
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

from gridgame import NotHealthy, wait_healthy

_PR_SET_PDEATHSIG = 1
# A human line, as the original system printed them: [CLOCK] ..., [P003] ..., [METER] ...
HUMAN = re.compile(r"\[[A-Z][A-Z0-9_]*\] ")


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
    service: bool = False  # others talk to it: stopped after every client
    log_file: Path | None = None

    def last_words(self) -> str:
        """Where to look, and the child's last line (an exception's message, not its
        traceback)."""
        if self.pump is not None:  # its output may still be in the pipe
            self.pump.join(timeout=2.0)
        last = next((ln for ln in reversed(self.lines) if ln.strip()), "(no output)")
        where = f"; its log: {self.log_file}" if self.log_file is not None else ""
        return f"{last.strip()[:300]}{where}"


class Cluster:
    """Starts and supervises named processes; `with Cluster() as c:` stops them all."""

    def __init__(self, out: IO[str] = sys.stdout, echo: bool = True,
                 log_dir: Path | None = None) -> None:
        """`echo`: interleave the children's human lines on `out`; `log_dir`: write each
        child's whole output to `<log_dir>/<name>.log` (kept after the run, for inspection)."""
        self.out = out
        self.echo = echo
        self.log_dir = log_dir
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
        self.children: dict[str, Child] = {}
        self._lock = threading.Lock()

    def start(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None,
              service: bool = False) -> Child:
        proc = subprocess.Popen(
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        child = Child(name, list(argv), proc, service=service,
                      log_file=None if self.log_dir is None else self.log_dir / f"{name}.log")
        self.children[name] = child
        child.pump = threading.Thread(target=self._pump, args=(child,), daemon=True)
        child.pump.start()
        return child

    def _pump(self, child: Child) -> None:
        assert child.proc.stdout is not None
        log = (open(child.log_file, "a", buffering=1)  # noqa: SIM115
               if child.log_file is not None else None)
        try:
            with child.proc.stdout:  # closed at the child's end of output
                for line in child.proc.stdout:
                    line = line.rstrip("\n")
                    child.lines.append(line)
                    if log is not None:
                        log.write(line + "\n")
                    if self.echo and HUMAN.match(line):
                        with self._lock:
                            print(line, file=self.out, flush=True)
        finally:
            if log is not None:
                log.close()

    def wait_healthy(self, name: str, url: str, timeout: float = 30.0) -> None:
        """Wait until `url` answers 200; fail early if the process exits."""
        child = self.children[name]
        try:
            wait_healthy(url, timeout=timeout, alive=lambda: child.proc.poll() is None,
                         name=name)
        except NotHealthy as exc:
            if child.proc.poll() is not None:
                raise ClusterError(f"{name} exited with code {child.proc.returncode}: "
                                   f"{child.last_words()}") from None
            raise ClusterError(f"{exc}; {name}'s last line: {child.last_words()}") from None

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
                raise ClusterError(f"{name} died with code {child.proc.returncode}: "
                                   f"{child.last_words()}")

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

    def stop_all(self, timeout: float = 5.0) -> None:
        """SIGTERM to every client, wait; then to every service, wait; SIGKILL to whatever
        is still running after `timeout` seconds of its wave. A Ctrl-C meanwhile is ignored:
        stopping is already under way."""
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) \
            if threading.current_thread() is threading.main_thread() else None
        try:
            clients = [c for c in self.children.values() if not c.service]
            services = [c for c in self.children.values() if c.service]
            for wave in (clients, services):
                self._stop_wave(list(reversed(wave)), timeout)
            for child in self.children.values():
                if child.pump is not None:
                    child.pump.join(timeout=timeout)
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)

    @staticmethod
    def _stop_wave(children: list[Child], timeout: float) -> None:
        alive = [c for c in children if c.proc.poll() is None]
        for child in alive:
            child.proc.terminate()
        deadline = time.monotonic() + timeout
        for child in alive:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.proc.kill()
                child.proc.wait()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop_all()
