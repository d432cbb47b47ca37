"""``waihu softphone WORK_ID``: an agent's pjsua2 softphone in a terminal, for demos and manual tests.

It registers the agent's PJSIP endpoint (``A1001`` → ``agent1001``, as deploy/asterisk/pjsip.conf names
them; ``--endpoint`` says otherwise), answers dialer calls if asked to, optionally speaks a WAV file as
the agent's voice, and prints every registration and call event until Ctrl-C (or ``--max-calls``),
then hangs up and unregisters. Signalling and media stay on ``--bind`` (127.0.0.1); audio goes to the
null sound device.
"""

from __future__ import annotations

import contextlib
import queue
import re
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import click

from agents.softphone import MEDIA_TIMEOUT, PhoneEvent, SipRuntime, Softphone, SoftphoneError

__all__ = ["endpoint_of", "softphone"]

_WORK_ID = re.compile(r"[A-Za-z]+(\d+)")


def endpoint_of(work_id: str) -> str:
    """The PJSIP endpoint of a work ID: its digits after ``agent`` (``A1001`` → ``agent1001``)."""
    match = _WORK_ID.fullmatch(work_id)
    return f"agent{match.group(1)}" if match else work_id


def _line(event: PhoneEvent) -> str:
    stamp = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
    if event.kind == "registration":
        what = "registered" if event.code == 200 else f"registration failed ({event.code})"
        return f"{stamp} {event.username} {what}"
    status = f" {event.code}" if event.code else ""
    return f"{stamp} {event.username} call {event.state}{status} {event.remote} [{event.call}]"


@click.command("softphone")
@click.argument("work_id", required=False)
@click.option("--work-id", "work_id_option", metavar="WORK_ID", default=None, help="The agent's work ID.")
@click.option(
    "--password",
    envvar="WAIHU_AGENT_PASSWORD",
    required=True,
    help="The endpoint's SIP password (env WAIHU_AGENT_PASSWORD; asterisk.sh keeps it in var/asterisk/asterisk.env).",
)
@click.option("--server", default="127.0.0.1:5060", show_default=True, help="Registrar (Asterisk) host:port.")
@click.option("--endpoint", default=None, help="PJSIP endpoint / SIP user (default: agent<digits of WORK_ID>).")
@click.option(
    "--auto-answer/--ring-only",
    default=True,
    show_default=True,
    help="Answer every incoming call, as an agent's phone on the dialer does (--ring-only: it only rings).",
)
@click.option(
    "--play",
    "voice",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A WAV file played into each answered call as the agent's voice.",
)
@click.option("--bind", default="127.0.0.1", show_default=True, help="Address for SIP and RTP.")
@click.option("--max-calls", type=click.IntRange(min=1), default=None, help="Exit after this many calls ended.")
@click.option("--register-timeout", type=float, default=10.0, show_default=True, help="Seconds to wait for 200.")
@click.option(
    "--media-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=MEDIA_TIMEOUT,
    show_default=True,
    help="Hang up a call that receives no audio (RTP) this many seconds: the PBX died without a BYE.",
)
def softphone(
    work_id: str | None,
    work_id_option: str | None,
    password: str,
    server: str,
    endpoint: str | None,
    auto_answer: bool,
    voice: Path | None,
    bind: str,
    max_calls: int | None,
    register_timeout: float,
    media_timeout: float,
) -> None:
    """Register WORK_ID's softphone to Asterisk and print its call events until Ctrl-C."""
    if work_id and work_id_option and work_id != work_id_option:
        raise click.UsageError(f"two work IDs given ({work_id}, {work_id_option}): give one")
    work_id = work_id or work_id_option
    if not work_id:
        raise click.UsageError("give the agent's work ID: waihu softphone --work-id A1001")
    username = endpoint or endpoint_of(work_id)
    events: queue.SimpleQueue[PhoneEvent] = queue.SimpleQueue()
    runtime = SipRuntime(host=bind)
    try:
        runtime.start()
    except SoftphoneError as exc:
        raise click.ClickException(str(exc)) from exc
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    previous = signal.signal(signal.SIGTERM, stop)
    phone = Softphone(
        runtime,
        username,
        password,
        registrar=server,
        auto_answer=auto_answer,
        voice=voice,
        on_event=events.put,
        media_timeout=media_timeout,
    )
    ended = 0
    over: set[str] = set()
    try:
        click.echo(f"{work_id}: registering {username} at {server} (SIP/RTP on {bind}:{runtime.bound_port})")
        phone.register()
        deadline = time.monotonic() + register_timeout
        while not stopping:
            try:
                event = events.get(timeout=0.2)
            except queue.Empty:
                if phone.registration_code == 0 and time.monotonic() > deadline:
                    raise click.ClickException(f"{server} did not answer the registration") from None
                continue
            # Counted before it is printed: a Ctrl-C right after the line must not lose the call.
            # A dead call is reported as media-timeout, and as disconnected once its BYE is given up on.
            call_over = event.kind == "call" and event.state in ("disconnected", "media-timeout")
            if call_over and event.call not in over:
                over.add(event.call)
                ended += 1
            click.echo(_line(event))
            sys.stdout.flush()
            if event.kind == "registration" and event.code != 200:
                raise click.ClickException(f"registration refused ({event.code}): check the endpoint and password")
            if call_over and max_calls is not None and ended >= max_calls:
                break
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        with contextlib.suppress(SoftphoneError):  # the runtime is already gone
            phone.unregister()
        runtime.stop()
    click.echo(f"{work_id}: unregistered after {ended} call(s)")
