"""The CLI's argument errors: a non-zero exit and a message that names the problem, before
anything connects."""

from __future__ import annotations

from pathlib import Path

import pytest

from prosumer_client.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["offer", "--kwh", "3", "--price", "0.1"], "the following arguments are required: --game"),
        (
            ["offer", "--game", "1", "--kwh", "-3", "--price", "0.1"],
            "argument --kwh: must be a positive number of kWh, not '-3'",
        ),
        (
            ["offer", "--game", "1", "--kwh", "lots", "--price", "0.1"],
            "argument --kwh: 'lots' is not a number",
        ),
        (["offer", "--game", "1", "--kwh", "inf", "--price", "0.1"], "not a finite number"),
        (
            ["offer", "--game", "1", "--kwh", "5000000", "--price", "0.1"],
            "argument --kwh: '5000000' kWh is outside",
        ),
        (
            ["offer", "--game", "0", "--kwh", "3", "--price", "0.1"],
            "argument --game: must be at least 1, not '0'",
        ),
        (
            ["offer", "--game", "1", "--kwh", "3", "--price", "0"],
            "argument --price: must be a positive price per kWh, not '0'",
        ),
        (["demand", "--game", "two", "--kwh", "3"], "argument --game: 'two' is not a whole number"),
        (["play"], "one of the arguments --sell --buy --profile is required"),
        (
            ["play", "--sell", "10", "--buy", "5"],
            "argument --buy: not allowed with argument --sell",
        ),
        (["play", "--sell", "10"], "--price is required with --sell"),
        (["play", "--profile", "p.csv"], "--price is required with --profile"),
        (["play", "--buy", "5", "--price", "0.1"], "--price goes with --sell or --profile"),
        (["play", "--buy", "5", "--games", "-1"], "argument --games: must be 0 (forever) or more"),
        (
            ["play", "--buy", "5", "--poll-interval", "0"],
            "argument --poll-interval: must be positive",
        ),
        (["play", "--buy", "5", "--period", "hour"], "argument --period: invalid choice: 'hour'"),
        (
            ["status", "--address", "0x1234"],
            "argument --address: '0x1234' is not an Ethereum address",
        ),
        (["status", "--log-level", "loud"], "argument --log-level: invalid choice: 'loud'"),
        (["status", "--name", ""], "name: String should have at least 1 character"),
        (["bid"], "invalid choice: 'bid'"),
        (
            ["meter", "--game", "1", "--produced", "1e30", "--consumed", "0"],
            "argument --produced: '1e30' kWh is above the largest reading, 4.29497e+06 kWh",
        ),
        (
            ["meter", "--game", "1", "--produced", "0", "--consumed", "4294967.3"],
            "argument --consumed: '4294967.3' kWh is above the largest reading",
        ),
        (["keys"], "the following arguments are required: ACTION"),
        (["keys", "new"], "the following arguments are required: --out"),
        (["keys", "new", "--out", "k.json", "--key", "0xabc"], "unrecognized arguments: --key"),
    ],
)
def test_bad_arguments_exit_2_naming_the_problem(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2
    assert message in err, err
    assert out == ""


def test_the_key_is_never_a_flag(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["demand", "--game", "1", "--kwh", "3", "--key", "0xabc"], capsys)
    assert code == 2 and "unrecognized arguments: --key 0xabc" in err


def test_a_bad_profile_fails_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "house.csv"
    profile.write_text("time,load,pv\n2020/5/2 00:00,1,x\n2020/5/2 00:15,1,2\n")
    code, _, err = run(
        ["play", "--profile", str(profile), "--price", "0.1", "--rpc", "http://127.0.0.1:9"], capsys
    )
    assert code == 1
    assert err.strip() == (f"error: profile {profile} line 2: column 'pv' has 'x', not a number")
    code, _, err = run(["play", "--profile", str(tmp_path / "none.csv"), "--price", "0.1"], capsys)
    assert code == 1 and "not found" in err


def test_missing_deployment_and_missing_key_are_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PROSUMER_KEY", raising=False)
    monkeypatch.delenv("PROSUMER_KEY_FILE", raising=False)
    code, _, err = run(
        ["demand", "--game", "1", "--kwh", "3", "--deployment", str(tmp_path / "none.json")], capsys
    )
    assert code == 1 and "deployment file" in err and "not found" in err
    code, _, err = run(["status"], capsys)
    assert code == 1
    assert "no key: pass --key-file or set PROSUMER_KEY; or name the prosumer with --address" in err
    code, _, err = run(["status", "--key-file", str(tmp_path / "key.txt")], capsys)
    assert code == 1 and "key file" in err and "not found" in err


def test_environment_supplies_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from prosumer_client.cli import parser, settings_of

    monkeypatch.setenv("PROSUMER_RPC", "http://node:8545")
    monkeypatch.setenv("PROSUMER_NAME", "P007")
    args = parser().parse_args(["status", "--name", "P003"])
    settings = settings_of(args)
    assert settings.rpc == "http://node:8545"  # from the environment
    assert settings.name == "P003"  # the flag wins
    assert settings.queue == "http://127.0.0.1:8082"  # the default


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for command in ("offer", "demand", "play", "meter", "balance", "history", "status", "keys"):
        assert command in out
    assert "PROSUMER_KEY" in out
