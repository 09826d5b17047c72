"""The demo's child processes: started with their human lines (``[TAG] ...``) interleaved on our
stdout and all their output in ``<log_dir>/<name>.log``, waited for until healthy, and all
stopped on exit, error or Ctrl-C (and, on Linux, if the demo dies): clients first, then the
services they talk to, so that none of them sees its server vanish mid-request.

Children run in their own session: a Ctrl-C at the terminal reaches the demo only, which then
stops them in order, rather than every process at once (each printing its own traceback).

Given a `RestartPolicy`, the cluster supervises the children started with `restart`: one that
crashes is started again with backoff, said on the screen (`[DEMO] ... tx_queue exited (-9);
restarting in 1 s (restart 1 of 5 in 60 s)`); only repeated crashes stop the market
(`check_alive` raises the reason). Every child's current PID is in the process table
(`table`, a JSON file), for whoever must find or signal one."""

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from gridgame import NotHealthy, stamp, wait_healthy

from .supervision import RestartPolicy, Supervisor, write_table

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
    env: dict[str, str] = field(default_factory=dict)
    # supervised: the argv of its next run (None: nothing left for it to do, stay down)
    respawn: Callable[[], list[str] | None] | None = None
    restarts: list[float] = field(default_factory=list)  # monotonic times
    due: float | None = None  # a restart is scheduled at this monotonic time
    stopped: bool = False  # stopped on purpose: never restarted
    done: bool = False  # exited 0, or nothing left for it: not restarted

    def crashed(self) -> int | None:
        """Its non-zero exit status, None while it runs or once it exited 0."""
        code = self.proc.poll()
        return None if code in (None, 0) else code

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

    def __init__(
        self,
        out: IO[str] = sys.stdout,
        echo: bool = True,
        log_dir: Path | None = None,
        policy: RestartPolicy | None = None,
        table: Path | None = None,
    ) -> None:
        """`echo`: interleave the children's human lines on `out`; `log_dir`: write each
        child's whole output to `<log_dir>/<name>.log` (kept after the run, for inspection);
        `policy`: restart the children started with `restart` (None: none is); `table`: keep
        the process table in this JSON file."""
        self.out = out
        self.echo = echo
        self.log_dir = log_dir
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
        self.policy = policy
        self.table = table
        self.children: dict[str, Child] = {}
        self.failure: str | None = None  # why supervision gave up: the market stops
        self._lock = threading.Lock()  # the screen
        self._state = threading.RLock()  # children's processes: starts, restarts, stops
        self.closing = False  # stop_all under way: nothing is restarted
        self._finished = threading.Event()
        self._supervisor: Supervisor | None = None

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str] | None = None,
        service: bool = False,
        restart: bool | Callable[[], list[str] | None] = False,
    ) -> Child:
        """Start `argv` as `name`. `restart` (with a policy): supervise it, restarting it with
        the same argv, or with the one this function returns (None: leave it down)."""
        with self._state:
            proc = self._popen(list(argv), env or {})
            respawn = None
            if restart and self.policy is not None:
                respawn = restart if callable(restart) else (lambda: list(argv))
            child = Child(
                name,
                list(argv),
                proc,
                service=service,
                env=dict(env or {}),
                respawn=respawn,
                log_file=None if self.log_dir is None else self.log_dir / f"{name}.log",
            )
            self.children[name] = child
            self._start_pump(child)
            self._write_table()
        if respawn is not None and self._supervisor is None:
            assert self.policy is not None
            self._supervisor = Supervisor(self, self.policy, self._state, self._finished)
            self._supervisor.start()
        return child

    @staticmethod
    def _popen(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
        return subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )

    def _start_pump(self, child: Child) -> None:
        child.pump = threading.Thread(target=self._pump, args=(child, child.proc), daemon=True)
        child.pump.start()

    def say(self, message: str) -> None:
        """A `[DEMO]` line on the screen (also when the children's lines are not echoed)."""
        with self._lock:
            print(f"[DEMO] [{stamp()}] {message}", file=self.out, flush=True)

    def _pump(self, child: Child, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        log = (
            open(child.log_file, "a", buffering=1)  # noqa: SIM115
            if child.log_file is not None
            else None
        )
        try:
            with proc.stdout:  # closed at the child's end of output
                for line in proc.stdout:
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
            wait_healthy(url, timeout=timeout, alive=lambda: child.proc.poll() is None, name=name)
        except NotHealthy as exc:
            if child.proc.poll() is not None:
                raise ClusterError(
                    f"{name} exited with code {child.proc.returncode}: {child.last_words()}"
                ) from None
            raise ClusterError(f"{exc}; {name}'s last line: {child.last_words()}") from None

    def wait_line(self, names: list[str], text: str, timeout: float) -> None:
        """Wait until each named process has printed a line containing `text`."""
        deadline = time.monotonic() + timeout
        pending = list(names)
        while pending:
            self.check_alive(*pending)
            pending = [n for n in pending if not any(text in ln for ln in self.children[n].lines)]
            if pending and time.monotonic() > deadline:
                raise ClusterError(
                    f"{len(pending)} process(es) not ready within {timeout:.0f} s "
                    f"(no {text!r} line): {', '.join(pending[:10])}"
                )
            time.sleep(0.1)

    def check_alive(self, *names: str) -> None:
        """Raise if supervision gave up, or if one of `names` (default: all) died and is not
        supervised."""
        if self.failure is not None:
            raise ClusterError(self.failure)
        for name in names or tuple(self.children):
            child = self.children[name]
            if child.respawn is None and child.crashed() is not None:
                raise ClusterError(
                    f"{name} died with code {child.proc.returncode}: {child.last_words()}"
                )

    # ------------------------------------------------------------------ supervision

    def respawn(self, child: Child, argv: list[str]) -> None:
        """Run `child` again with `argv` (the supervisor's restart)."""
        if child.pump is not None:  # the last lines of its previous run first
            child.pump.join(timeout=2.0)
        child.argv, child.proc = argv, self._popen(argv, child.env)
        child.restarts.append(time.monotonic())
        self._start_pump(child)
        self._write_table()

    def _write_table(self) -> None:
        if self.table is None:
            return
        write_table(
            self.table,
            {
                c.name: {
                    "pid": c.proc.pid,
                    "running": c.proc.poll() is None,
                    "restarts": len(c.restarts),
                    "supervised": c.respawn is not None,
                    "service": c.service,
                }
                for c in self.children.values()
            },
        )

    # ------------------------------------------------------------------ stopping

    def stop(self, name: str, sig: int = signal.SIGTERM, timeout: float = 5.0) -> None:
        """Stop one child on purpose (it is not restarted)."""
        child = self.children.get(name)
        if child is None:
            return
        child.stopped = True
        if child.proc.poll() is not None:
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
        previous = (
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            if threading.current_thread() is threading.main_thread()
            else None
        )
        with self._state:  # no restart from here on
            self.closing = True
        try:
            clients = [c for c in self.children.values() if not c.service]
            services = [c for c in self.children.values() if c.service]
            for wave in (clients, services):
                self._stop_wave(list(reversed(wave)), timeout)
            for child in self.children.values():
                if child.pump is not None:
                    child.pump.join(timeout=timeout)
            self._write_table()
        finally:
            self._finished.set()
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

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_all()
