"""``waihu agents``: bootstrap a vendor, a seat and work IDs, list them masked, apply due requests."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from waihu.cli import main


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[CliRunner, Path]:
    for name in list(os.environ):
        if name.startswith("WAIHU_") and name != "WAIHU_TEST_PG_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    db_file = tmp_path / "var" / "cli.db"
    env = {
        "WAIHU_DATABASE_URL": f"sqlite+aiosqlite:///{db_file}",
        "WAIHU_KEY_FILE": str(tmp_path / "var" / "cli.key"),
        "WAIHU_LOG_LEVEL": "WARNING",
    }
    return CliRunner(env=env), db_file


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI configures the root logger; put it back afterwards."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        root.setLevel(level)


def _run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args), catch_exceptions=False)


def test_bootstrap_a_site(runner: tuple[CliRunner, Path], restore_logging: None) -> None:
    cli, db_file = runner
    assert _run(cli, "db", "upgrade").exit_code == 0
    result = _run(cli, "agents", "vendor-add", "A", "Vendor A", "--quota", "2")
    assert result.exit_code == 0, result.output
    assert "quota of 2" in result.stdout
    assert _run(cli, "agents", "seat-add", "A-01", "--vendor", "A").exit_code == 0
    result = _run(cli, "agents", "user-add", "LA1", "--role", "team_lead", "--vendor", "A", "--name", "张三丰")
    assert result.exit_code == 0, result.output
    assert "张**" in result.stdout
    assert "张三丰" not in result.stdout
    password = result.stdout.strip().rsplit(" ", 1)[-1]
    assert len(password) == 14
    _run(cli, "agents", "user-add", "AA1", "--role", "agent", "--vendor", "A", "--name", "李四")
    result = cli.invoke(main, ["agents", "user-add", "AA2", "--role", "agent", "--vendor", "A", "--name", "王五"])
    assert result.exit_code == 1
    assert "agents.quota_exceeded" in result.output
    result = _run(cli, "agents", "users")
    assert result.stdout.splitlines() == [
        "AA1\t李*\tagent\t1\tactive",
        "LA1\t张**\tteam_lead\t1\tactive",
    ]
    result = _run(cli, "agents", "apply-due")
    assert result.stdout.strip() == "applied 0 request(s)"
    connection = sqlite3.connect(db_file)
    try:
        stored = connection.execute("SELECT password_hash, name_enc FROM users WHERE work_id = 'LA1'").fetchone()
    finally:
        connection.close()
    assert stored[0].startswith("$argon2id$")
    assert password not in stored[0]
    assert "张三丰".encode() not in stored[1]


def test_admins_have_no_vendor(runner: tuple[CliRunner, Path], restore_logging: None) -> None:
    cli, _ = runner
    result = cli.invoke(main, ["agents", "user-add", "ADM1", "--role", "admin", "--vendor", "A", "--name", "x"])
    assert result.exit_code == 2
