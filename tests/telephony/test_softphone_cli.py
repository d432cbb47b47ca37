"""``waihu softphone``: a real process registering to the real Asterisk, answering a dialer call, stopped by Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
import sys
import uuid
from pathlib import Path

from agents.softphone_cli import endpoint_of
from tests.telephony.helpers import Ami, AsteriskEnv, originate

WAIHU = str(Path(sys.executable).parent / "waihu")


async def start(env: AsteriskEnv, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        WAIHU,
        "softphone",
        *args,
        "--server",
        env.sip_registrar,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def read_until(process: asyncio.subprocess.Process, text: str, seen: list[str], within: float = 10.0) -> str:
    """Lines of the process's output until one contains ``text`` (every line kept in ``seen``)."""
    assert process.stdout is not None
    async with asyncio.timeout(within):
        while True:
            raw = await process.stdout.readline()
            if not raw:
                raise AssertionError(f"the softphone exited before printing {text!r}: {seen}")
            line = raw.decode().rstrip()
            seen.append(line)
            if text in line:
                return line


def test_work_ids_map_to_agent_endpoints() -> None:
    assert endpoint_of("A1001") == "agent1001"
    assert endpoint_of("a1007") == "agent1007"
    assert endpoint_of("agent1002") == "agent1002"
    assert endpoint_of("desk-7") == "desk-7"


async def test_given_the_softphone_command_when_a_dialer_call_comes_then_it_answers_and_prints_it_until_ctrl_c(
    asterisk: AsteriskEnv, ami: Ami
) -> None:
    process = await start(asterisk, "--work-id", "A1007", "--password", asterisk.agent_password)  # answers by default
    seen: list[str] = []
    try:
        await read_until(process, "agent1007 registered", seen)
        call_id = f"cli-{uuid.uuid4().hex[:10]}"
        await ami.send(originate(asterisk, call_id, "10002", WAIHU_AGENT="1007"))  # talks 2 s, then hangs up
        await read_until(process, "call confirmed", seen)
        await read_until(process, "call disconnected", seen, within=15)
        process.send_signal(signal.SIGINT)
        await read_until(process, "unregistered after 1 call(s)", seen)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert any("call incoming" in line for line in seen)


async def test_given_a_wrong_password_when_the_softphone_registers_then_it_exits_saying_so(
    asterisk: AsteriskEnv,
) -> None:
    process = await start(asterisk, "A1008", "--password", "wrong")
    seen: list[str] = []
    try:
        await read_until(process, "registration refused (401)", seen)
        assert await asyncio.wait_for(process.wait(), 10) == 1
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_the_work_id_is_given_once_either_way() -> None:
    from click.testing import CliRunner

    from waihu.cli import main

    runner = CliRunner()
    missing = runner.invoke(main, ["softphone", "--password", "x"])
    assert missing.exit_code == 2
    assert "waihu softphone --work-id A1001" in missing.output
    both = runner.invoke(main, ["softphone", "A1001", "--work-id", "A1002", "--password", "x"])
    assert both.exit_code == 2
    assert "two work IDs" in both.output
