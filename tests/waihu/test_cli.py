from __future__ import annotations

import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from waihu.cli import LAZY_COMMANDS, LazyGroup, main
from waihu.migrate import heads


@pytest.fixture
def cli(clean_env: Path, restore_root_logger: object) -> tuple[CliRunner, Path]:
    """A runner whose environment points at a fresh SQLite database and key file."""
    db_file = clean_env / "var" / "cli.db"
    runner = CliRunner(
        env={
            "WAIHU_DATABASE_URL": f"sqlite+aiosqlite:///{db_file}",
            "WAIHU_KEY_FILE": str(clean_env / "var" / "cli.key"),
            "WAIHU_LOG_LEVEL": "WARNING",
        }
    )
    return runner, db_file


def _run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(main, list(args), catch_exceptions=False)


def _append(runner: CliRunner, count: int) -> None:
    for i in range(count):
        result = _run(runner, "audit", "append", "--actor", "A0017", "--action", "pii.unmask", "--target", f"lead:{i}")
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith(f"appended seq={i + 1} hash=")


def _tamper(db_file: Path, *statements: str) -> None:
    connection = sqlite3.connect(db_file)
    try:
        connection.execute("DROP TRIGGER audit_log_no_update")
        connection.execute("DROP TRIGGER audit_log_no_delete")
        for statement in statements:
            connection.execute(statement)
        connection.commit()
    finally:
        connection.close()


def test_db_upgrade_current_downgrade(cli: tuple[CliRunner, Path]) -> None:
    runner, db_file = cli
    result = _run(runner, "db", "current")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"base (not migrated; latest is {heads()[0]})")

    result = _run(runner, "db", "upgrade")
    assert result.exit_code == 0, result.output
    (head,) = heads()
    assert result.stdout.strip() == f"database sqlite+aiosqlite:///{db_file} at {head}"
    assert db_file.exists()
    assert _run(runner, "db", "current").stdout.strip() == f"{head} (head)"

    result = _run(runner, "db", "downgrade", "base")
    assert result.exit_code == 0
    assert result.stdout.strip().endswith("at base")
    assert _run(runner, "db", "upgrade", "--revision", "0001").exit_code == 0
    assert _run(runner, "db", "current").stdout.strip() == "0001"


def test_audit_verify_ok_then_broken_after_tampering(cli: tuple[CliRunner, Path]) -> None:
    runner, db_file = cli
    assert _run(runner, "db", "upgrade").exit_code == 0
    _append(runner, 4)

    result = _run(runner, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("audit chain OK: 4 rows, head seq=4, hash=")
    head_hash = result.stdout.strip().rsplit("hash=", 1)[1]

    _tamper(db_file, "UPDATE audit_log SET target = 'lead:99' WHERE seq = 2", "DELETE FROM audit_log WHERE seq = 3")
    result = _run(runner, "audit", "verify")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("row id=2 seq=2: hash mismatch")
    assert lines[1] == "row id=4 seq=4: seq 3 missing: rows deleted before this row"
    assert "audit chain BROKEN: 2 problem(s) in 3 rows" in result.stderr

    result = _run(runner, "audit", "verify", "--expect-seq", "4", "--expect-hash", head_hash)
    assert result.exit_code == 1  # still broken; the anchor itself matches


def test_audit_verify_with_anchor_detects_truncation(cli: tuple[CliRunner, Path]) -> None:
    runner, db_file = cli
    assert _run(runner, "db", "upgrade").exit_code == 0
    _append(runner, 3)
    head_hash = _run(runner, "audit", "verify").stdout.strip().rsplit("hash=", 1)[1]
    _tamper(db_file, "DELETE FROM audit_log WHERE seq = 3")
    assert _run(runner, "audit", "verify").exit_code == 0
    result = _run(runner, "audit", "verify", "--expect-seq", "3", "--expect-hash", head_hash)
    assert result.exit_code == 1
    assert result.stdout.strip() == "chain: seq 3 missing at the end of the log: tail truncated (anchor seq=3)"


def test_audit_append_with_details(cli: tuple[CliRunner, Path]) -> None:
    runner, db_file = cli
    assert _run(runner, "db", "upgrade").exit_code == 0
    result = _run(
        runner,
        "audit",
        "append",
        "--actor",
        "system",
        "--action",
        "campaign.start",
        "--target",
        "c:1",
        "--details",
        '{"b": 1, "a": "甲"}',
    )
    assert result.exit_code == 0, result.output
    connection = sqlite3.connect(db_file)
    try:
        assert connection.execute("SELECT details FROM audit_log").fetchone() == ('{"a":"甲","b":1}',)
    finally:
        connection.close()
    bad = runner.invoke(main, ["audit", "append", "--actor", "x", "--action", "y", "--target", "z", "--details", "[1]"])
    assert bad.exit_code == 2
    assert "must be a JSON object" in bad.stderr


def test_audit_verify_without_key_file_fails_cleanly(cli: tuple[CliRunner, Path]) -> None:
    runner, _ = cli
    assert _run(runner, "db", "upgrade").exit_code == 0
    result = _run(runner, "audit", "verify")
    assert result.exit_code == 1
    assert "error [vault.key_missing]" in result.stderr
    assert "Traceback" not in result.output


def test_bad_settings_exit_2_with_message_and_no_traceback(cli: tuple[CliRunner, Path]) -> None:
    runner, _ = cli
    result = runner.invoke(main, ["db", "upgrade"], env={"WAIHU_DATABASE_URL": "mysql://root:pw@db/waihu"})
    assert result.exit_code == 2
    assert "WAIHU_DATABASE_URL='mysql://root:***@db/waihu' is invalid" in result.stderr
    assert "pw@" not in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_main_help_lists_own_commands() -> None:
    result = CliRunner().invoke(main, ["--help"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "db" in result.stdout
    assert "audit" in result.stdout
    assert LAZY_COMMANDS["flows"] == "flows.cli:flows"
    assert all(":" in path and not path.startswith("waihu") for path in LAZY_COMMANDS.values())


@click.group(
    cls=LazyGroup,
    lazy_subcommands={
        "hello": "tests.waihu.lazy_target:hello",
        "ghost": "no_such_package.cli:ghost",
        "later": "tests.waihu.no_such_module:later",
        "string": "tests.waihu.lazy_target:not_a_command",
        "broken": "tests.waihu.broken_target:cmd",
    },
)
def _group() -> None:
    """Test group."""


def test_lazy_group_loads_existing_commands_and_hides_missing_ones() -> None:
    runner = CliRunner()
    assert _group.list_commands(click.Context(_group)) == ["broken", "hello", "string"]
    result = runner.invoke(_group, ["hello"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == "hello from a lazy command\n"
    help_text = runner.invoke(_group, ["--help"], catch_exceptions=False).stdout
    assert "hello" in help_text
    assert "ghost" not in help_text
    assert "later" not in help_text
    for missing in ("ghost", "later", "string"):
        result = runner.invoke(_group, [missing])
        assert result.exit_code == 2
        assert "No such command" in result.stderr


def test_lazy_group_shows_a_broken_module_in_help_and_raises_when_run() -> None:
    runner = CliRunner()
    help_text = runner.invoke(_group, ["--help"], catch_exceptions=False).stdout
    assert "broken" in help_text
    assert "unavailable: RuntimeError" in help_text
    with pytest.raises(RuntimeError, match="bug inside the module"):
        runner.invoke(_group, ["broken"], catch_exceptions=False)
