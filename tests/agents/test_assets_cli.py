"""``waihu assets``: register, issue, list, ask who sat at a seat last, rates and the off-boarding checklist."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from waihu.cli import main

from .test_cli import restore_logging, runner

__all__ = ["restore_logging", "runner"]


def _run(cli: CliRunner, *args: str) -> Result:
    result = cli.invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_the_client_side_from_a_shell(runner: tuple[CliRunner, Path], restore_logging: None) -> None:
    cli, _ = runner
    _run(cli, "db", "upgrade")
    _run(cli, "agents", "vendor-add", "A", "Vendor A", "--quota", "5")
    _run(cli, "agents", "seat-add", "A-01", "--vendor", "A")
    _run(cli, "agents", "user-add", "AA1", "--role", "agent", "--vendor", "A", "--name", "李四")
    assert "in stock" in _run(cli, "assets", "add", "PC-001", "--kind", "computer", "--value", "4000").stdout
    _run(cli, "assets", "add", "ID-AA1", "--kind", "work_id", "--work-id", "AA1")
    assert "waiting for the vendor" in _run(cli, "assets", "issue", "--vendor", "A", "PC-001", "ID-AA1").stdout
    assert _run(cli, "assets", "list").stdout.splitlines() == [
        "ID-AA1\twork_id\tin_stock\t-\t-\t-",
        "PC-001\tcomputer\tin_stock\t-\t-\t-",
    ]
    assert "nobody was logged in at A-01" in _run(cli, "assets", "last-user", "A-01").stdout
    assert _run(cli, "assets", "checklist", "AA1").stdout.strip() == "AA1 has handed everything back"
    rates = _run(cli, "assets", "rates", "--vendor", "A", "--month", "2026-03").stdout.splitlines()
    assert rates[0] == "it_loss_rate\t0/0\t0.00%\ttarget < 1%\tok"
    missing = _run(cli, "assets", "missing-inspections", "--day", "2026-03-02").stdout
    assert missing.strip() == "A\t2026-03-02\tA-01"
    failed = cli.invoke(main, ["assets", "add", "X-1", "--kind", "sofa"])
    assert failed.exit_code == 1
    assert "agents.asset_invalid" in failed.output
