from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from waihu.errors import ConfigError
from waihu.settings import Settings, load_settings, redact_url

pytestmark = pytest.mark.usefixtures("clean_env")


def test_given_no_environment_when_loading_then_defaults() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///var/waihu.db"
    assert settings.key_file == Path("var/waihu.key")
    assert settings.timezone == "Asia/Shanghai"
    assert settings.zone == ZoneInfo("Asia/Shanghai")
    assert settings.default_region == "CN"
    assert settings.log_level == "INFO"
    assert settings.flows_dirs == []


@pytest.mark.parametrize(
    "url",
    ["sqlite+aiosqlite:///tmp/x.db", "sqlite+aiosqlite://", "postgresql+asyncpg://u:p@db:5432/waihu"],
)
def test_given_supported_url_when_loading_then_accepted(url: str) -> None:
    assert load_settings(database_url=url).database_url == url


@pytest.mark.parametrize(
    "url", ["sqlite:///x.db", "postgresql://u@h/db", "postgresql+psycopg://u@h/db", "mysql://x", ""]
)
def test_given_unsupported_url_when_loading_then_config_error_names_variable(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(database_url=url)
    error = info.value
    assert error.error_id == "config.invalid"
    assert "WAIHU_DATABASE_URL" in error.message
    assert repr(url) in error.message
    assert "sqlite+aiosqlite://" in error.message  # says how to fix it
    assert error.details["variables"] == ["WAIHU_DATABASE_URL"]


def test_given_bad_url_with_password_when_loading_then_password_not_shown() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(database_url="postgresql://waihu:s3cret@db/waihu")
    assert "s3cret" not in info.value.message
    assert "waihu:***@db" in info.value.message


def test_redact_url_hides_only_the_password() -> None:
    assert redact_url("postgresql+asyncpg://u:p%40ss@h:5432/db") == "postgresql+asyncpg://u:***@h:5432/db"
    assert redact_url("sqlite+aiosqlite:///var/waihu.db") == "sqlite+aiosqlite:///var/waihu.db"


def test_given_env_prefix_when_loading_then_environment_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAIHU_DATABASE_URL", "postgresql+asyncpg://root@127.0.0.1/test")
    monkeypatch.setenv("WAIHU_TIMEZONE", "Europe/Paris")
    monkeypatch.setenv("WAIHU_DEFAULT_REGION", "fr")
    monkeypatch.setenv("WAIHU_LOG_LEVEL", "debug")
    monkeypatch.setenv("WAIHU_KEY_FILE", "/etc/waihu/key")
    monkeypatch.setenv("DATABASE_URL", "mysql://ignored-without-prefix")
    settings = load_settings()
    assert settings.database_url == "postgresql+asyncpg://root@127.0.0.1/test"
    assert settings.timezone == "Europe/Paris"
    assert settings.default_region == "FR"
    assert settings.log_level == "DEBUG"
    assert settings.key_file == Path("/etc/waihu/key")


def test_given_override_when_loading_then_it_beats_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAIHU_TIMEZONE", "Europe/Paris")
    assert load_settings(timezone="UTC").timezone == "UTC"


def test_given_bad_env_value_when_loading_then_message_names_variable_and_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WAIHU_DATABASE_URL", "mysql://root@db/waihu")
    with pytest.raises(ConfigError, match=r"WAIHU_DATABASE_URL='mysql://root@db/waihu' is invalid"):
        load_settings()


def test_given_dotenv_file_when_loading_then_read(clean_env: Path) -> None:
    (clean_env / ".env").write_text("WAIHU_TIMEZONE=UTC\nOTHER_TOOL_SETTING=1\nWAIHU_SOMETHING_ELSE=x\n")
    assert load_settings().timezone == "UTC"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd"])
def test_given_bad_timezone_when_loading_then_config_error(zone: str) -> None:
    with pytest.raises(ConfigError, match="WAIHU_TIMEZONE") as info:
        load_settings(timezone=zone)
    assert "Asia/Shanghai" in info.value.message  # an example of a good value


def test_given_bad_region_when_loading_then_config_error() -> None:
    with pytest.raises(ConfigError, match="WAIHU_DEFAULT_REGION='XX' is invalid"):
        load_settings(default_region="XX")


def test_given_bad_log_level_when_loading_then_config_error() -> None:
    with pytest.raises(ConfigError, match="WAIHU_LOG_LEVEL"):
        load_settings(log_level="LOUD")


def test_given_several_bad_values_when_loading_then_each_is_reported() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(timezone="Nowhere/Land", default_region="XX")
    assert info.value.details["variables"] == ["WAIHU_TIMEZONE", "WAIHU_DEFAULT_REGION"]
    assert len(info.value.message.splitlines()) == 2


def test_given_flows_dirs_as_path_list_when_loading_then_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAIHU_FLOWS_DIRS", "/srv/a:/srv/b")
    assert load_settings().flows_dirs == [Path("/srv/a"), Path("/srv/b")]


def test_given_flows_dirs_as_json_when_loading_then_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAIHU_FLOWS_DIRS", '["/srv/a", "scripts"]')
    assert load_settings().flows_dirs == [Path("/srv/a"), Path("scripts")]


def test_given_broken_json_flows_dirs_when_loading_then_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAIHU_FLOWS_DIRS", '["/srv/a"')
    with pytest.raises(ConfigError, match="WAIHU_FLOWS_DIRS"):
        load_settings()


def test_given_unknown_override_when_loading_then_type_error() -> None:
    with pytest.raises(TypeError, match="datbase_url"):
        load_settings(datbase_url="sqlite+aiosqlite://")


def test_settings_are_immutable() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.timezone = "UTC"  # type: ignore[misc]


def test_settings_can_be_subclassed_by_other_packages() -> None:
    class DialerSettings(Settings):
        ami_host: str = "127.0.0.1"

    assert DialerSettings().ami_host == "127.0.0.1"
