"""`python -m demo` as a user runs it: the screen shows the processes' human lines and the whole
report, never a JSON log line or a traceback, at a normal end, on an error and on Ctrl-C; the
services' whole logs are in <workdir>/logs/. Every process is stopped on Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from demo.processes import HUMAN
from ledger_contracts import free_port

ROOT = Path(__file__).resolve().parents[2]
REPORT = (
    "Allocation (kWh)",
    "Cost per buyer (game vs equilibrium from /equilibrium)",
    "price of anarchy",
    "Largest deviation from the potential's minimiser",
    "Timings: ",
    "Settlement (currency units)",
    "Operator income",
)


def demo(*args: str) -> list[str]:
    return [sys.executable, "-m", "demo", "--chart", "", *args]


def assert_clean(lines: list[str]) -> None:
    assert not [ln for ln in lines if ln.startswith("{")], "a JSON log line on the screen"
    assert not [ln for ln in lines if "Traceback" in ln], "a traceback on the screen"


def test_the_screen_is_human_lines_then_the_report(tmp_path: Path) -> None:
    done = subprocess.run(
        demo("--workdir", str(tmp_path), "--json", str(tmp_path / "r.json")),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = (done.stdout + done.stderr).splitlines()
    assert done.returncode == 0, "\n".join(lines[-30:])
    assert_clean(lines)
    first = next(i for i, ln in enumerate(lines) if re.match(r"Game \d+: ", ln))
    log = [ln for ln in lines[:first] if ln.strip()]
    assert log and all(HUMAN.match(ln) for ln in log), [ln for ln in log if not HUMAN.match(ln)]
    for tag in ("[DEMO]", "[CLOCK]", "[S001]", "[P003]", "[METER]"):
        assert any(ln.startswith(tag) for ln in log), f"no {tag} line"
    report = "\n".join(lines[first:])
    for part in REPORT:
        assert part in report, f"the report lacks {part!r}"
    assert json.loads((tmp_path / "r.json").read_text())["games"][0]["game"] == 1
    # the services' logs are complete, in their own files: start to shutdown, access log too
    queue = [json.loads(ln) for ln in (tmp_path / "logs" / "tx_queue.log").read_text().splitlines()]
    assert queue[0]["message"] and any(e["message"] == "tx_queue stopped" for e in queue)
    optimizer = [
        json.loads(ln) for ln in (tmp_path / "logs" / "optimizer.log").read_text().splitlines()
    ]
    assert any(e["message"] == "starting" for e in optimizer)
    assert any(
        e["logger"] == "uvicorn.access" and "/best-response" in e["message"] for e in optimizer
    )


def test_an_error_is_one_line(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        demo("--rpc", nobody, "--workdir", str(tmp_path)),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert_clean((done.stdout + done.stderr).splitlines())
    assert done.stderr.startswith("error: ") and nobody in done.stderr


def _processes_mentioning(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmd and proc.name.isdigit() and int(proc.name) != os.getpid():
            found.append(cmd)
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_ctrl_c_stops_every_process_quietly(tmp_path: Path) -> None:
    # its own process group, as a shell runs a command: Ctrl-C is SIGINT to the whole group
    proc = subprocess.Popen(
        demo("--workdir", str(tmp_path)),
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(
        target=lambda: lines.extend(ln.rstrip("\n") for ln in proc.stdout), daemon=True
    )
    reader.start()
    try:
        deadline = time.monotonic() + 300
        while not any(ln.startswith("[CLOCK]") for ln in lines):
            assert proc.poll() is None and time.monotonic() < deadline, "\n".join(lines[-20:])
            time.sleep(0.1)
        optimizer = next(
            re.search(r"optimizer at (\S+),", ln) for ln in lines if "optimizer at" in ln
        )
        assert optimizer is not None
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        reader.join(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        proc.stdout.close()
    assert_clean(lines)
    assert lines[-1] == "interrupted: every process stopped"
    assert _processes_mentioning(str(tmp_path)) == []
    with pytest.raises(httpx.TransportError):
        httpx.get(optimizer.group(1) + "/health", timeout=2)
