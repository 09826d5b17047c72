"""The cluster's supervision with real child processes (small Python scripts, real signals): a
crashed child is restarted with backoff and said on the screen, one that exits 0 or was stopped
on purpose stays down, repeated crashes stop the market with the reason, and without a policy
a crash is an error at once (`--no-restart`, the old behaviour)."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from demo.processes import Cluster, ClusterError
from demo.supervision import RestartPolicy

SLEEPER = [sys.executable, "-c", "import time; print('[SLEEPER] up', flush=True); time.sleep(120)"]
CRASHER = [
    sys.executable,
    "-c",
    "import sys; print('[CRASHER] boom: the disk is full'); sys.exit(3)",
]
QUICK = RestartPolicy(limit=3, window=60, delay=0.2, max_delay=1.0)


def until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.05)


def table(path: Path) -> dict:
    return json.loads(path.read_text())["processes"]


def test_a_killed_child_is_restarted_and_said_on_the_screen(tmp_path: Path) -> None:
    out = io.StringIO()
    with Cluster(
        out=out, log_dir=tmp_path / "logs", policy=QUICK, table=tmp_path / "processes.json"
    ) as cluster:
        cluster.start("sleeper", SLEEPER, service=True, restart=True)
        cluster.wait_line(["sleeper"], "up", timeout=30)
        first = table(tmp_path / "processes.json")["sleeper"]["pid"]
        assert first == cluster.children["sleeper"].proc.pid
        os.kill(first, signal.SIGKILL)
        until(
            lambda: table(tmp_path / "processes.json")["sleeper"]["restarts"] == 1,
            30,
            "the restart",
        )
        row = table(tmp_path / "processes.json")["sleeper"]
        assert row["pid"] != first and row["running"]
        until(
            lambda: cluster.children["sleeper"].lines.count("[SLEEPER] up") == 2,
            30,
            "the second run's first line",
        )
        cluster.check_alive()  # nothing to raise: it runs again
    screen = out.getvalue().splitlines()
    assert any(
        re.fullmatch(
            r"\[DEMO\] \[[\d: -]+\] sleeper exited \(-9\); restarting in "
            r"0\.2 s \(restart 1 of 3 in 60 s\)",
            ln,
        )
        for ln in screen
    ), screen
    assert (tmp_path / "logs" / "sleeper.log").read_text().count("[SLEEPER] up") == 2
    assert not table(tmp_path / "processes.json")["sleeper"]["running"]


def test_repeated_crashes_stop_the_market_with_the_reason(tmp_path: Path) -> None:
    out = io.StringIO()
    with Cluster(out=out, echo=False, policy=QUICK) as cluster:
        cluster.start("crasher", CRASHER, restart=True)
        until(lambda: cluster.failure is not None, 30, "the supervisor to give up")
        with pytest.raises(
            ClusterError,
            match=r"crasher exited \(3\) after 3 restarts within "
            r"60 s; the market stops.*the disk is full",
        ):
            cluster.check_alive()
        assert len(cluster.children["crasher"].restarts) == 3
    delays = re.findall(r"restarting in ([\d.]+) s \(restart (\d) of 3", out.getvalue())
    assert delays == [("0.2", "1"), ("0.4", "2"), ("0.8", "3")]  # doubled each time
    assert "crasher exited (3); 3 restarts within 60 s already: the market stops" in out.getvalue()


def test_an_exit_0_a_stop_on_purpose_and_nothing_left_are_not_restarted(tmp_path: Path) -> None:
    out = io.StringIO()
    with Cluster(out=out, echo=False, policy=QUICK) as cluster:
        cluster.start("done", [sys.executable, "-c", "pass"], restart=True)
        cluster.start("stopped", SLEEPER, restart=True)
        cluster.start("finished", SLEEPER, restart=lambda: None)
        cluster.wait_line(["stopped", "finished"], "up", timeout=30)
        cluster.stop("stopped", sig=signal.SIGKILL)
        cluster.children["finished"].proc.kill()
        until(lambda: "finished not restarted" in out.getvalue(), 30, "the supervisor")
        time.sleep(3 * QUICK.delay)
        cluster.check_alive()
        for name in ("done", "stopped", "finished"):
            assert cluster.children[name].restarts == [], name
    assert "finished not restarted: nothing is left for it to do" in out.getvalue()
    assert "stopped exited" not in out.getvalue() and "done exited" not in out.getvalue()


def test_without_a_policy_a_crash_is_an_error_at_once(tmp_path: Path) -> None:
    with Cluster(echo=False, policy=None) as cluster:
        cluster.start("sleeper", SLEEPER, service=True, restart=True)
        cluster.wait_line(["sleeper"], "up", timeout=30)
        cluster.children["sleeper"].proc.kill()
        cluster.children["sleeper"].proc.wait(timeout=10)
        with pytest.raises(ClusterError, match=r"sleeper died with code -9"):
            cluster.check_alive()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--restart-limit", "0"], "--restart-limit must be at least 1"),
        (["--restart-window", "0"], "--restart-window must be > 0"),
    ],
)
def test_a_bad_policy_is_one_line(
    flags: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from demo.__main__ import main

    assert main([*flags, "--workdir", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"error: {message}" + (
        " (--no-restart: none)\n" if "limit" in message else " and --restart-delay >= 0\n"
    )


def test_a_restart_that_cannot_be_made_counts_against_the_limit(tmp_path: Path) -> None:
    out = io.StringIO()

    def no_node() -> list[str]:
        raise ConnectionError("no Ethereum node answers")

    with Cluster(out=out, echo=False, policy=QUICK) as cluster:
        cluster.start("clock", CRASHER, restart=no_node)
        until(lambda: cluster.failure is not None, 30, "the supervisor to give up")
        with pytest.raises(ClusterError, match=r"clock exited \(3\) after 3 restarts"):
            cluster.check_alive()
    assert (
        out.getvalue().count(
            "clock could not be restarted: ConnectionError: no Ethereum node answers"
        )
        == 3
    )


def test_the_flags_and_variables_make_the_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import demo.run
    from demo.__main__ import main
    from demo.run import DemoOptions

    seen: list[DemoOptions] = []
    monkeypatch.setattr(demo.run, "run_demo", seen.append)
    assert main(["--workdir", str(tmp_path)]) == 0
    assert seen[-1].restart == RestartPolicy()  # on by default: 5 in 60 s, from 1 s
    assert (
        main(
            [
                "--workdir",
                str(tmp_path),
                "--restart-limit",
                "2",
                "--restart-window",
                "10",
                "--restart-delay",
                "0.5",
            ]
        )
        == 0
    )
    assert seen[-1].restart == RestartPolicy(limit=2, window=10, delay=0.5, max_delay=30)
    monkeypatch.setenv("DEMO_RESTART_LIMIT", "7")
    assert main(["--workdir", str(tmp_path)]) == 0
    assert seen[-1].restart is not None and seen[-1].restart.limit == 7
    assert main(["--workdir", str(tmp_path), "--no-restart"]) == 0
    assert seen[-1].restart is None  # the old behaviour: a crashed service ends the run
