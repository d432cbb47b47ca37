"""Helpers of the real-PBX tests: connection settings, an AMI connection with an event log, the dialer's Originate."""

from __future__ import annotations

import array
import asyncio
import contextlib
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from panoramisk import Manager
from panoramisk.message import Message


@dataclass(frozen=True)
class AsteriskEnv:
    """Connection settings written by ``asterisk.sh`` (var/asterisk/asterisk.env)."""

    ami_host: str
    ami_port: int
    ami_user: str
    ami_secret: str
    sip_registrar: str
    agent_password: str
    trunk: str
    recordings: Path
    #: the recordings directory as Asterisk sees it (inside the chroot); where the dialer points MixMonitor
    monitor_dir: str = "/var/spool/asterisk/monitor"


class AmiEvents:
    """Every AMI event a connection receives, with a way to wait for one (no sleeps in tests)."""

    def __init__(self) -> None:
        self.events: list[Message] = []
        self._waiters: list[asyncio.Future[None]] = []

    def __call__(self, manager: Manager, event: Message) -> None:
        self.events.append(event)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)

    def find(self, name: str, **headers: str) -> list[Message]:
        """Events called ``name`` whose headers have these values (``Cause_txt`` means ``Cause-txt``)."""
        return [
            e
            for e in self.events
            if e.get("Event") == name and all(e.get(k.replace("_", "-")) == v for k, v in headers.items())
        ]

    async def wait(self, name: str, *, within: float = 10.0, **headers: str) -> Message:
        """The first event called ``name`` with these header values, waiting for it if need be."""
        async with asyncio.timeout(within):
            while not (found := self.find(name, **headers)):
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                try:
                    await waiter
                finally:
                    self._waiters.remove(waiter)
        return found[0]


@dataclass
class Ami:
    """A logged-in panoramisk connection with its event log."""

    manager: Manager
    events: AmiEvents

    async def send(self, action: dict[str, Any]) -> Any:
        """Send an action and return its reply (a list for Async originates: the ack and OriginateResponse)."""
        return await asyncio.wait_for(self.manager.send_action(action), 30)


async def connect_ami(env: AsteriskEnv, *, secret: str | None = None) -> tuple[Manager, bool]:
    """Connect and log in; returns the manager and whether the login succeeded."""
    loop = asyncio.get_running_loop()
    manager = Manager(
        loop=loop,
        host=env.ami_host,
        port=env.ami_port,
        username=env.ami_user,
        secret=env.ami_secret if secret is None else secret,
        ping_delay=3600,
        reconnect_timeout=3600,
        forgetable_actions=("ping", "login", "originate", "command"),
    )
    await manager.connect()
    login = manager.authenticated_future
    if login is not None:
        await asyncio.wait_for(asyncio.shield(login), 10)
    await asyncio.sleep(0)  # Manager.login (the future's done-callback) sets ``authenticated``
    return manager, bool(manager.authenticated)


def originate(
    env: AsteriskEnv, call_id: str, number: str, *, timeout_ms: int = 20000, **variables: str
) -> dict[str, Any]:
    """The Originate the dialer sends: the customer leg is our call id, the answered call goes to waihu-outbound."""
    return {
        "Action": "Originate",
        "Channel": f"PJSIP/{number}@{env.trunk}",
        "Context": "waihu-outbound",
        "Exten": "s",
        "Priority": "1",
        "Async": "true",
        "Timeout": str(timeout_ms),
        "ChannelId": call_id,
        "Variable": [f"WAIHU_CALL_ID={call_id}", *(f"{k}={v}" for k, v in variables.items())],
    }


def audio_of(path: Path) -> tuple[float, int]:
    """Seconds of audio in a WAV file and its peak sample (0 means silence only)."""
    with wave.open(str(path)) as wav:
        frames = wav.readframes(wav.getnframes())
        seconds = wav.getnframes() / wav.getframerate()
    samples = array.array("h", frames)
    return seconds, max((abs(s) for s in samples), default=0)


def _finished_audio(path: Path) -> tuple[float, int] | None:
    if not path.is_file():
        return None
    with contextlib.suppress(EOFError, wave.Error):
        seconds, peak = audio_of(path)
        if seconds > 0:
            return seconds, peak
    return None


async def until_recorded(path: Path, *, within: float) -> tuple[float, int]:
    """Wait until ``path`` is a finished WAV file (MixMonitor writes its header on its own thread after the
    hang-up); return :func:`audio_of`."""
    async with asyncio.timeout(within):
        while True:
            found = _finished_audio(path)
            if found is not None:
                return found
            await asyncio.sleep(0.05)  # a file has no event to wait on
