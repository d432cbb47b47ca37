"""Validated settings, read from ``WAIHU_*`` environment variables and an optional ``.env`` file.

Nothing here runs at import: the entry points call :func:`load_settings` once at start-up and pass
the result down, so tests and tools can build settings of their own.
"""

from __future__ import annotations

import json
import logging
import os
import re
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from waihu.errors import ConfigError

__all__ = ["ENV_PREFIX", "SUPPORTED_URL_PREFIXES", "Settings", "load_settings", "redact_url"]

ENV_PREFIX = "WAIHU_"
SUPPORTED_URL_PREFIXES = ("sqlite+aiosqlite://", "postgresql+asyncpg://")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@/]*@")

# How to fix each setting; shown after the problem so an operator never has to read the code.
_HINTS: dict[str, str] = {
    "database_url": (
        "Set WAIHU_DATABASE_URL to sqlite+aiosqlite:///var/waihu.db (embedded) "
        "or postgresql+asyncpg://user:password@host:5432/dbname (production)."
    ),
    "key_file": "Set WAIHU_KEY_FILE to the path of the PII key file, e.g. var/waihu.key.",
    "timezone": "Set WAIHU_TIMEZONE to an IANA time zone name such as Asia/Shanghai.",
    "default_region": "Set WAIHU_DEFAULT_REGION to a two-letter region code such as CN.",
    "log_level": f"Set WAIHU_LOG_LEVEL to one of {', '.join(_LOG_LEVELS)}.",
    "flows_dirs": (f"Set WAIHU_FLOWS_DIRS to directories separated by {os.pathsep!r}, or to a JSON list of paths."),
}


def redact_url(url: str) -> str:
    """Hide the password of a database URL so it can be shown in errors and logs."""
    return _PASSWORD_IN_URL.sub(r"\1***@", url)


class Settings(BaseSettings):
    """Everything the shared package needs to start; other packages may subclass it."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",  # the .env file also holds other packages' variables
        frozen=True,
    )

    database_url: str = "sqlite+aiosqlite:///var/waihu.db"
    key_file: Path = Path("var/waihu.key")
    timezone: str = "Asia/Shanghai"
    default_region: str = "CN"
    log_level: str = "INFO"
    flows_dirs: Annotated[list[Path], NoDecode] = []

    # -- work IDs and logins (第十四条; issue 3) --
    password_min_length: int = Field(default=8, ge=6, le=128)
    #: a password older than this must be changed at the next login
    password_max_age_days: int = Field(default=90, ge=1)
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_minutes: int = Field(default=15, ge=1)
    #: a login token expires this long after its last use
    session_idle_minutes: int = Field(default=60, ge=1)
    #: the site's default shift, local time, when an agent has no shift record that day (7.7: logout at shift end)
    shift_default_start: time = time(9, 0)
    shift_default_end: time = time(18, 0)
    # -- QA --
    #: calls picked for review per agent per week (weighted to short, refused and off-script calls)
    qa_samples_per_agent_week: int = Field(default=5, ge=0, le=100)
    #: how long a call recording is kept before the retention job deletes it (a tombstone stays)
    recording_retention_days: int = Field(default=180, ge=1)
    # -- attendance (第十七条) --
    #: where the API's campaigns dial: "sim" (the built-in simulator: demos, training) or "asterisk" (AMI below).
    #: Training campaigns always run on the simulator. The AMI names match deploy/asterisk/asterisk.sh's
    #: settings file (var/asterisk/asterisk.env), so ``set -a; . var/asterisk/asterisk.env`` configures them.
    telephony: Literal["sim", "asterisk"] = "sim"
    ami_host: str = "127.0.0.1"
    ami_port: int = Field(default=5038, ge=1, le=65535)
    ami_user: str = "waihu"
    ami_secret: SecretStr = SecretStr("")
    asterisk_trunk: str = "loopback"
    #: where MixMonitor writes, as Asterisk sees the path (inside its chroot, if any)
    asterisk_monitor_dir: str = "/var/spool/asterisk/monitor"
    #: the same directory as this machine sees it (a chroot's path); unset: the monitor directory itself
    asterisk_recordings_dir: Path | None = None
    #: rewrites of a lead's number before it is dialed, tried in order (JSON pairs of a regular expression and
    #: its replacement, e.g. [["\\+86(\\d+)", "0\\1"]] for a carrier that wants national numbers)
    asterisk_number_rules: list[tuple[str, str]] = []
    #: answering-machine detection (AMD()) on answered calls: a machine is hung up and counted as one
    asterisk_amd: bool = False
    #: an abandoned customer hears the campaign's written safe-harbor message spoken (espeak-ng, sox); off, or
    #: without those tools: the site's recorded prompt (WAIHU_SAFE_HARBOR in extensions.conf)
    asterisk_speak_messages: bool = True
    #: where recordings land on this machine (the simulator's synthesized ones, and Asterisk's as seen from here)
    recordings_dir: Path = Path("var/recordings")

    #: the local monthly minimum wage (元); a month of sick leave pays 80% of it
    minimum_wage_monthly: Decimal = Field(default=Decimal("2420"), ge=0)

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(SUPPORTED_URL_PREFIXES):
            raise ValueError("only sqlite+aiosqlite:// and postgresql+asyncpg:// URLs are supported")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @field_validator("default_region")
    @classmethod
    def _check_region(cls, value: str) -> str:
        region = value.strip().upper()
        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError("unknown phone region")
        return region

    @field_validator("log_level")
    @classmethod
    def _check_log_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in _LOG_LEVELS:
            raise ValueError("unknown log level")
        return level

    @field_validator("flows_dirs", mode="before")
    @classmethod
    def _split_flows_dirs(cls, value: Any) -> Any:
        # An environment variable is a plain string: accept a PATH-like list as well as JSON.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part for part in text.split(os.pathsep) if part]
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The site's time zone, for calling windows and attendance."""
        return ZoneInfo(self.timezone)

    @property
    def log_level_number(self) -> int:
        """The log level as the number the logging module wants."""
        return logging.getLevelNamesMapping()[self.log_level]


def _env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def _shown_value(field: str, value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    if field == "database_url":
        text = redact_url(text)
    return repr(text) if isinstance(value, str) else text


def load_settings(**overrides: Any) -> Settings:
    """Read and validate the settings; any problem becomes one ConfigError an operator can act on.

    ``overrides`` take precedence over the environment (field names, e.g. ``database_url=...``).
    """
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise TypeError(f"unknown settings: {', '.join(unknown)}")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems: list[str] = []
        variables: list[str] = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            variable = _env_name(field)
            reason = str(error["msg"]).removeprefix("Value error, ")
            problems.append(
                f"{variable}={_shown_value(field, error.get('input'))} is invalid: {reason}. "
                f"{_HINTS.get(field, '')}".rstrip()
            )
            variables.append(variable)
        raise ConfigError(
            "\n".join(problems),
            error_id="config.invalid",
            details={"variables": variables, "problems": problems},
        ) from None
    except (SettingsError, ValueError) as exc:
        # Raised while a source decodes a variable, before validation.
        raise ConfigError(
            f"cannot read the settings: {exc}. Check the WAIHU_* variables and the .env file.",
            error_id="config.invalid",
        ) from None
