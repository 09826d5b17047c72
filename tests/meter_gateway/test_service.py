"""The gateway's other faces: GET /health, the OpenAPI page, the token command (revoking a
token refuses its next upload), and a start-up without METER_ROLE."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from ledger_contracts import free_port

from .conftest import REPO, Market


def token_command(m: Market, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meter_gateway", "token", *args, "--db", str(m.db)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_health_says_node_and_queue_answer(market: Market) -> None:
    body = httpx.get(market.gateway_url + "/health", timeout=10).json()
    assert body == {
        "status": "ok",
        "node": True,
        "queue": True,
        "meter_account": market.meter.address,
    }


def test_openapi_documents_the_readings(market: Market) -> None:
    assert httpx.get(market.gateway_url + "/docs", timeout=10).status_code == 200
    spec = httpx.get(market.gateway_url + "/openapi.json", timeout=10).json()
    answers = spec["paths"]["/readings"]["post"]["responses"]
    assert {"201", "202", "401", "404", "409", "422"} <= set(answers)


def test_a_revoked_token_is_refused(market: Market) -> None:
    m = market
    added = token_command(m, "add", "--meter", "meter-0003")
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip()
    assert len(token) == 43 and token not in m.db.read_bytes().decode(errors="replace")
    listed = token_command(m, "list")
    assert "meter-0003" in listed.stdout and token not in listed.stdout
    body = {"game": 999, "produced_kwh": 1.0, "consumed_kwh": 1.0}
    assert m.post(body, token=token).status_code == 404  # accepted, then no such game
    revoked = token_command(m, "revoke", "--meter", "meter-0003")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    m.tokens.pop("meter-0003", None)  # every token of the meter is revoked
    before = m.snapshot()
    answer = m.post({"game": m.game, "produced_kwh": 1.0, "consumed_kwh": 1.0}, token=token)
    assert answer.status_code == 401 and "unknown or revoked" in answer.json()["message"]
    assert m.snapshot() == before
    assert "revoked" in token_command(m, "list").stdout
    again = token_command(m, "revoke", "--meter", "meter-0003")
    assert again.returncode == 2 and "has no live token" in again.stderr


def test_a_bad_meter_id_is_a_one_line_error(market: Market) -> None:
    answer = token_command(market, "add", "--meter", "meter with spaces")
    assert answer.returncode == 2
    assert answer.stderr.startswith("error: a meter id is") and answer.stdout == ""


def test_the_gateway_will_not_start_without_the_meter_role(market: Market) -> None:
    m = market
    other = m.prosumers[0]  # admitted, but holds no METER_ROLE
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "meter_gateway",
            "--rpc",
            m.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
            "--deployment",
            str(m.tmp / "deployment.json"),
            "--queue",
            m.queue_url,
            "--db",
            str(m.tmp / "other.db"),
            "--port",
            str(free_port()),
            "--startup-wait",
            "30",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "METER_KEY": "0x" + bytes(other.key).hex()},
    )
    assert proc.returncode == 1, proc.stderr
    assert "lacks METER_ROLE" in proc.stderr and other.address in proc.stderr, proc.stderr
