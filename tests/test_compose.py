"""docker-compose.yml cannot run here (no Docker engine), so it is kept correct by test: every
service's command is a real module of this project, every flag it passes is one that module
accepts, every port agrees with its health check, and the files it reads are ones `demo setup`
writes."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
import yaml

from ledger_contracts.testing import DEMO

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
OURS = {name: s for name, s in SERVICES.items() if s.get("image") == "gridgame:latest"}


@cache
def help_text(module: str, sub: str | None) -> str:
    argv = [sys.executable, "-m", module, *([sub] if sub else []), "--help"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0, f"{' '.join(argv)} failed: {done.stderr[-500:]}"
    return done.stdout


def split(command: list[str]) -> tuple[str, str | None, list[str]]:
    assert command[:2] == ["python", "-m"], f"not a python module command: {command}"
    module, rest = command[2], command[3:]
    sub = rest[0] if rest and not rest[0].startswith("-") else None
    return module, sub, rest[1:] if sub else rest


def test_every_project_service_runs_a_module_of_this_project() -> None:
    assert {"setup", "optimizer", "tx_queue", "market_clock", "meter"} <= set(OURS)
    for name, service in OURS.items():
        module, _, _ = split(service["command"])
        assert importlib.util.find_spec(module) is not None, f"{name}: no module {module}"


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_flag_of_a_service_is_accepted_by_its_module(name: str) -> None:
    module, sub, args = split(OURS[name]["command"])
    text = help_text(module, sub)
    flags = [a for a in args if a.startswith("--")]
    assert flags, f"{name} passes no flags"
    for flag in flags:
        assert re.search(rf"{re.escape(flag)}\b", text), f"{name}: {module} has no {flag}"


def test_ports_agree_with_commands_and_health_checks() -> None:
    for name, service in OURS.items():
        args = service["command"]
        if "--port" not in args:
            continue
        port = args[args.index("--port") + 1]
        assert service["ports"] == [f"127.0.0.1:{port}:{port}"], name
        assert f"127.0.0.1:{port}/health" in " ".join(service["healthcheck"]["test"]), name
        assert args[args.index("--host") + 1] == "0.0.0.0", f"{name} must listen on all addresses"


def test_every_published_port_is_bound_to_loopback() -> None:
    """Anvil's unlocked dev keys, the queue and the optimizer are not offered to the network:
    a port is published as `127.0.0.1:HOST:CONTAINER` (exposing one is an override's job)."""
    published = {name: s["ports"] for name, s in SERVICES.items() if "ports" in s}
    assert {"anvil", "optimizer", "tx_queue", "market_clock"} <= set(published)
    for name, ports in published.items():
        for port in ports:
            assert (
                isinstance(port, str) and port.startswith("127.0.0.1:") and port.count(":") == 2
            ), f"{name} publishes {port!r} beyond loopback"


def test_a_crashed_service_or_agent_is_restarted() -> None:
    """As the demo's supervision: every long-running process of ours restarts on failure; the
    one-shot setup does not."""
    for name, service in OURS.items():
        assert service.get("restart") == ("no" if name == "setup" else "on-failure"), name


def test_urls_name_services_on_their_ports() -> None:
    ports = {
        n: s["command"][s["command"].index("--port") + 1]
        for n, s in OURS.items()
        if "--port" in s["command"]
    }
    for name, service in OURS.items():
        for url in re.findall(r"http://([a-z_]+):(\d+)", " ".join(service["command"])):
            host, port = url
            if host == "anvil":
                assert port == "8545"
            else:
                assert ports[host] == port, f"{name} calls {host}:{port}"


# the environment-variable prefix of each command (docs/configuration.md)
PREFIXES = {
    "optimizer": "OPTIMIZER_",
    "tx_queue": "TX_QUEUE_",
    "market_clock": "MARKET_CLOCK_",
    "prosumer_client": "PROSUMER_",
    "demo": "DEMO_",
}
KEYS = {"OPERATOR_KEY", "RELAY_KEY", "CLOCK_KEY", "PROSUMER_KEY"}


@pytest.mark.parametrize("name", sorted(OURS))
def test_every_variable_is_one_its_command_reads(name: str) -> None:
    module, sub, _ = split(OURS[name]["command"])
    for variable in OURS[name].get("environment", {}):
        if variable in KEYS:
            continue
        prefix = PREFIXES[module]
        assert variable.startswith(prefix), f"{name}: {variable} is not {prefix}<FLAG>"
        flag = "--" + variable.removeprefix(prefix).lower().replace("_", "-")
        assert re.search(rf"{re.escape(flag)}\b", help_text(module, sub)), (
            f"{name}: {module} has no {flag} for {variable}"
        )


def test_depends_on_names_real_services() -> None:
    for name, service in SERVICES.items():
        for dep in service.get("depends_on", {}):
            assert dep in SERVICES, f"{name} depends on unknown {dep}"


def test_prosumers_are_the_demo_scenario_with_setup_written_keys() -> None:
    prosumers = {n: s for n, s in OURS.items() if re.fullmatch(r"[SP]\d{3}", n)}
    sellers = sorted(n for n in prosumers if n.startswith("S"))
    buyers = sorted(n for n in prosumers if n.startswith("P"))
    assert len(sellers) == len(DEMO.sellers) and len(buyers) == len(DEMO.buyers)
    for k, name in enumerate(sellers):
        args = prosumers[name]["command"]
        assert args[args.index("--key-file") + 1] == f"/data/keys/{name}.key"
        assert float(args[args.index("--sell") + 1]) == DEMO.sellers[k][0]
        assert float(args[args.index("--price") + 1]) == DEMO.sellers[k][1]
    for k, name in enumerate(buyers):
        args = prosumers[name]["command"]
        assert args[args.index("--key-file") + 1] == f"/data/keys/{name}.key"
        assert float(args[args.index("--buy") + 1]) == DEMO.buyers[k]


def test_dockerfile_copies_what_exists() -> None:
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), f"Dockerfile copies missing {src}"
