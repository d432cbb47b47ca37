"""The real-PBX test level: one Asterisk for the session (provisioned by deploy/asterisk/asterisk.sh), pjsua2 agents.

These tests are never skipped: if Asterisk cannot be provisioned or started they fail, saying why
(CI runs them through ``make test``). Asterisk is stopped at the end unless it was already running
before the session (a developer's instance is left alone).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agents.softphone import SipRuntime, Softphone
from tests.telephony.helpers import Ami, AmiEvents, AsteriskEnv, connect_ami

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "asterisk" / "asterisk.sh"


def _script(command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), command], capture_output=True, text=True, timeout=timeout, check=False, cwd=REPO
    )


def _read_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            values[key.strip()] = value.strip()
    return values


@pytest.fixture(scope="session")
def asterisk() -> Iterator[AsteriskEnv]:
    """Provision (first run: a Debian sid chroot, ~30 s) and start Asterisk; stop it afterwards."""
    was_running = _script("status", 30).returncode == 0
    for command, timeout in (("provision", 900.0), ("start", 120.0)):
        result = _script(command, timeout)
        if result.returncode != 0:
            pytest.fail(
                f"deploy/asterisk/asterisk.sh {command} failed (exit {result.returncode}); the real-PBX tests "
                f"are never skipped.\n{result.stdout}\n{result.stderr}",
                pytrace=False,
            )
    env_path = Path(os.environ.get("WAIHU_ASTERISK_ENV", REPO / "var" / "asterisk" / "asterisk.env"))
    values = _read_env(env_path)
    env = AsteriskEnv(
        ami_host=values["WAIHU_AMI_HOST"],
        ami_port=int(values["WAIHU_AMI_PORT"]),
        ami_user=values["WAIHU_AMI_USER"],
        ami_secret=values["WAIHU_AMI_SECRET"],
        sip_registrar=f"{values['WAIHU_SIP_HOST']}:{values['WAIHU_SIP_PORT']}",
        agent_password=values["WAIHU_AGENT_PASSWORD"],
        trunk=values["WAIHU_ASTERISK_TRUNK"],
        recordings=Path(values["WAIHU_ASTERISK_RECORDINGS_DIR"]),
        monitor_dir=values.get("WAIHU_ASTERISK_MONITOR_DIR", "/var/spool/asterisk/monitor"),
    )
    try:
        yield env
    finally:
        if not was_running:
            _script("stop", 60)


def pbx_command(command: str, timeout: float = 60.0) -> None:
    """Run ``asterisk.sh command`` (start, stop, kill) and fail the test, saying why, if it fails."""
    result = _script(command, timeout)
    if result.returncode != 0:
        pytest.fail(f"asterisk.sh {command} failed:\n{result.stdout}\n{result.stderr}", pytrace=False)


@pytest.fixture(scope="session")
def sip_runtime(asterisk: AsteriskEnv) -> Iterator[SipRuntime]:
    """The process's one pjsua2 library (it cannot be created twice), shared by every test."""
    runtime = SipRuntime()
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


@pytest.fixture
def make_phone(asterisk: AsteriskEnv, sip_runtime: SipRuntime) -> Iterator[Callable[..., Softphone]]:
    """Build softphones for agents (agent1001 ...); every one is unregistered after the test."""
    phones: list[Softphone] = []

    def make(username: str, password: str | None = None, **kwargs: Any) -> Softphone:
        phone = Softphone(
            sip_runtime,
            username,
            asterisk.agent_password if password is None else password,
            registrar=asterisk.sip_registrar,
            **kwargs,
        )
        phones.append(phone)
        return phone

    yield make
    for phone in phones:
        phone.unregister()


@pytest.fixture
async def ami(asterisk: AsteriskEnv) -> AsyncIterator[Ami]:
    """An AMI connection as the dialer's restricted user, recording every event."""
    manager, ok = await connect_ami(asterisk)
    if not ok:
        manager.close()
        pytest.fail("the AMI user from asterisk.env could not log in", pytrace=False)
    events = AmiEvents()
    manager.register_event("*", events)
    try:
        yield Ami(manager, events)
    finally:
        manager.close()
