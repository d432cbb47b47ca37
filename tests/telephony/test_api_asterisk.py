"""A campaign started through the HTTP API dials through the real Asterisk (``WAIHU_TELEPHONY=asterisk``).

The API runs in starlette's TestClient with the telephony session's AMI settings; its
:class:`~api.dialing.DialerPool` gives the campaign an :class:`~dialer.backends.asterisk.AsteriskBackend`
and a :class:`~recordings.store.RecordingKeeper`. Two agents (work IDs ``A1001`` and ``A1002``, PJSIP
endpoints ``agent1001``/``agent1002``) have real pjsua2 softphones that register and auto-answer, and
work their calls on the agent console websocket like a person would: ready, the call pops, a few
seconds of conversation, the script walked to an outcome (which hangs up), wrap-up, ready.

Leads are mobile-looking numbers, ``+86138`` + three digits + a test customer (deploy/asterisk/README.md:
``10130`` rings 1 s and would talk 30 s, ``20000`` is busy); the backend's number rule strips the
prefix, as a carrier's normalisation would.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import queue
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.testclient import WebSocketTestSession
from starlette.types import Message

from agents.softphone import Softphone
from api.app import create_app
from api.deps import AppState
from api.dialing import dialers_of
from dialer.models import CallAttempt, Lead
from recordings.models import RecordingFile
from tests.api.conftest import FAST_HASHER, Api, new_logged_in_agent, seed
from tests.telephony.helpers import AsteriskEnv, audio_of
from waihu.settings import load_settings

#: the number rule of test_campaign.py: ``+86138`` + three digits + the five-digit test customer
RULES = [(r"\+86138\d{3}(\d{5})", r"\1")]
#: work ID → its PJSIP endpoint (agents.softphone_cli.endpoint_of)
AGENTS = {"A1001": "agent1001", "A1002": "agent1002"}
#: two customers who answer after 1 s and would stay 30 s (the agent ends the call first), one busy
LEADS = ["13800010130", "13800120000", "13800210130"]
ANSWERING = {"10130"}
ALL_DAY = [["00:00", "23:59"]]
#: seconds each agent talks before walking the script (the recording has a real conversation in it)
TALK_SECONDS = 3.0


@dataclass
class Worked:
    """What one agent's console saw."""

    work_id: str
    pops: list[dict[str, Any]] = field(default_factory=list)
    ended: list[dict[str, Any]] = field(default_factory=list)
    #: per call: the softphone had exactly one answered call while the call was on the console
    phone_connected: list[bool] = field(default_factory=list)


@pytest.fixture
def asterisk_api(asterisk: AsteriskEnv, tmp_path: Path) -> Iterator[Api]:
    """The API with ``telephony=asterisk`` and the session's AMI, seeded like tests/api (vendors, TL1 …)."""
    settings = load_settings(
        telephony="asterisk",
        ami_host=asterisk.ami_host,
        ami_port=asterisk.ami_port,
        ami_user=asterisk.ami_user,
        ami_secret=asterisk.ami_secret,
        asterisk_trunk=asterisk.trunk,
        asterisk_monitor_dir=asterisk.monitor_dir,
        asterisk_recordings_dir=asterisk.recordings,
        asterisk_number_rules=RULES,
        recordings_dir=tmp_path / "recordings",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'api.db'}",
        key_file=tmp_path / "api.key",
    )
    app = create_app(settings, hasher=FAST_HASHER, run_migrations=True, dialer_options={"tick": 0.1})
    with TestClient(app) as client:
        portal = client.portal
        assert portal is not None
        state = client.app.state.waihu  # type: ignore[attr-defined]
        seeded = portal.call(functools.partial(seed, state, tmp_path))
        yield Api(client, seeded)


# --- the console, with timeouts (a test must never hang on a socket) --------------------------------


class Console:
    """An agent console's websocket whose messages a reader thread queues, so a receive can time out.

    The test client's ``receive`` blocks until a message comes; the reader thread does the blocking and
    ends when the socket closes (or the client's portal goes away at the end of the test).
    """

    def __init__(self, ws: WebSocketTestSession) -> None:
        self.ws = ws
        self.inbox: queue.Queue[Message | None] = queue.Queue()
        self.reader = threading.Thread(target=self._read, name="console-reader", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                message = self.ws.receive()
            except Exception:  # the socket or the portal closed: nothing more will come
                self.inbox.put(None)
                return
            self.inbox.put(message)
            if message["type"] == "websocket.close":
                return

    def send_json(self, data: dict[str, Any]) -> None:
        self.ws.send_json(data)

    def receive(self, within: float) -> dict[str, Any] | None:
        """The next message, or None if none came within ``within`` seconds (nothing is lost)."""
        try:
            message = self.inbox.get(timeout=within)
        except queue.Empty:
            return None
        assert message is not None, "the console socket closed"
        assert message["type"] == "websocket.send", message
        received: dict[str, Any] = json.loads(message["text"])
        return received


@contextlib.contextmanager
def console(api: Api, token: str) -> Iterator[Console]:
    headers = {"Authorization": f"Bearer {token}"}
    with api.client.websocket_connect("/ws/agent", headers=headers) as ws:
        feed = Console(ws)
        yield feed
    feed.reader.join(timeout=10)


def _next(ws: Console, kind: str, within: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        message = ws.receive(left)
        if message is None:
            break
        assert message["type"] != "error", message
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message within {within} s")


def _end_call(ws: Console, pop: dict[str, Any]) -> dict[str, Any]:
    """Walk the script by the last option of each step (the path that ends soonest) until the call ends."""
    step = pop["step"]
    for _ in range(30):
        values = {f["name"]: "13900001111" for f in step["capture"] if f["required"]}
        ws.send_json(
            {"type": "choose", "call_id": pop["call_id"], "option": step["options"][-1]["index"], "values": values}
        )
        message = _next_of(ws, ("call.step", "call.ended"))
        if message["type"] == "call.ended":
            return message
        step = message["step"]
    raise AssertionError("the script did not end")


def _next_of(ws: Console, kinds: tuple[str, ...], within: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while (left := deadline - time.monotonic()) > 0:
        message = ws.receive(left)
        if message is None:
            break
        assert message["type"] != "error", message
        if message["type"] in kinds:
            return message
    raise AssertionError(f"none of {kinds} within {within} s")


def _one_answered_call(phone: Softphone) -> bool:
    calls = phone.active_calls()
    return len(calls) == 1 and calls[0].answered_at is not None


def work_console(api: Api, work_id: str, token: str, phone: Softphone, done: threading.Event) -> Worked:
    """An agent at the console until ``done``: ready, then every call popped is talked, scripted and wrapped up."""
    worked = Worked(work_id)
    with console(api, token) as ws:
        ws.send_json({"type": "state", "state": "ready"})
        assert _next(ws, "state")["state"] == "ready"
        while not done.is_set():
            message = ws.receive(0.25)
            if message is None:
                continue
            assert message["type"] != "error", message
            if message["type"] != "call.pop":
                continue
            pop = message
            worked.pops.append(pop)
            # bridged: Asterisk dialed this agent's endpoint and the softphone answered
            phone.wait_for(_one_answered_call, timeout=10)
            time.sleep(TALK_SECONDS)  # the conversation (the customer would stay 30 s)
            worked.phone_connected.append(_one_answered_call(phone))
            worked.ended.append(_end_call(ws, pop))  # the outcome ends the call: the dialer hangs up
            assert _next(ws, "wrap_up")["call_id"] == pop["call_id"]
            phone.wait_for(lambda p: not p.active_calls(), timeout=10)  # the hang-up reached the phone
            ws.send_json({"type": "ready", "call_id": pop["call_id"]})
            assert _next(ws, "wrap_up.done")["call_id"] == pop["call_id"]
    return worked


# --- reading what the API stored -----------------------------------------------------------------


def _wait(predicate: Callable[[], bool], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _calls(api: Api, campaign_id: int) -> dict[str, dict[str, Any]]:
    response = api.request("team_lead", "GET", "/calls", params={"campaign_id": campaign_id})
    assert response.status_code == 200, response.text
    return {c["call_id"]: c for c in response.json()}


def _live(api: Api, campaign_id: int) -> dict[str, Any]:
    response = api.request("team_lead", "GET", f"/campaigns/{campaign_id}/live")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _attempts(state: AppState, campaign_id: int) -> list[CallAttempt]:
    async with state.sessions() as session:
        query = select(CallAttempt).where(CallAttempt.campaign_id == campaign_id).order_by(CallAttempt.id)
        return list((await session.scalars(query)).all())


async def _recordings(state: AppState, call_ids: list[str]) -> list[RecordingFile]:
    async with state.sessions() as session:
        query = select(RecordingFile).where(RecordingFile.call_id.in_(call_ids))
        return list((await session.scalars(query)).all())


def _check_stored_file(row: RecordingFile, store: Path) -> None:
    """The keeper's copy: the service user's, mode 0600 in its day's directory under recordings_dir, with the
    size and SHA-256 on its row."""
    path = Path(row.path)
    assert path.parent.parent == store
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()
    data = path.read_bytes()
    assert row.size_bytes == len(data) == info.st_size
    assert row.sha256 == hashlib.sha256(data).hexdigest()


# --- the test ---------------------------------------------------------------------------------------


def test_a_campaign_started_through_the_api_dials_through_asterisk_to_agents_on_softphones(
    asterisk_api: Api, asterisk: AsteriskEnv, make_phone: Callable[..., Softphone], tmp_path: Path
) -> None:
    api = asterisk_api
    started = time.monotonic()
    tokens = {w: api.run(new_logged_in_agent, api.state, w, api.seed.vendor_a) for w in AGENTS}
    phones = {w: make_phone(endpoint) for w, endpoint in AGENTS.items()}
    for phone in phones.values():
        phone.register()
    for phone in phones.values():
        phone.wait_for(lambda p: p.registered, timeout=5)

    body = {"name": "asterisk-live", "flow": "mobile-newspaper-trial@1", "agents": list(AGENTS)}
    created = api.request("team_lead", "POST", "/campaigns", json=body | {"calling_windows": ALL_DAY})
    assert created.status_code == 201, created.text
    campaign_id = int(created.json()["id"])
    rows = "".join(f"{number},客户{i}\n" for i, number in enumerate(LEADS))
    upload = api.request(
        "team_lead",
        "POST",
        f"/campaigns/{campaign_id}/leads",
        files={"file": ("leads.csv", f"phone,name\n{rows}".encode(), "text/csv")},
    )
    assert upload.status_code == 200, upload.text
    assert upload.json()["imported"] == len(LEADS)
    start = api.request("team_lead", "POST", f"/campaigns/{campaign_id}/start")
    assert start.status_code == 200, start.text

    live = _live(api, campaign_id)
    assert live["running"] is True
    assert live["telephony"] == "asterisk"
    assert live["ami_state"] == "connected"
    metrics = api.client.get("/metrics").text
    assert f'waihu_ami_connected{{campaign="{campaign_id}",state="connected"}} 1.0' in metrics

    done = threading.Event()
    with ThreadPoolExecutor(max_workers=len(AGENTS)) as executor:
        consoles: list[Future[Worked]] = [
            executor.submit(work_console, api, w, tokens[w], phones[w], done) for w in AGENTS
        ]

        def all_calls_stored() -> bool:
            for future in consoles:
                if future.done():
                    future.result()  # a console that failed fails the test now, with its error
            stored = _calls(api, campaign_id)
            return len(stored) == len(LEADS) and all(c["ended_at"] for c in stored.values())

        try:
            _wait(all_calls_stored, "every lead's call record", 90)
        finally:
            done.set()
        worked = [future.result(timeout=30) for future in consoles]
    dialed = time.monotonic()

    # Each answered call popped on one agent's console, whose softphone held it for the whole conversation.
    popped = {pop["call_id"]: w.work_id for w in worked for pop in w.pops}
    assert all(all(w.phone_connected) for w in worked), worked
    assert all(ended["outcome"] for w in worked for ended in w.ended)
    assert {w.work_id for w in worked if w.pops} == set(AGENTS)  # each agent took a call
    for work_id, phone in phones.items():
        answered = [c for c in phone.calls if c.answered_at is not None]
        assert len(answered) == len(next(w for w in worked if w.work_id == work_id).pops)
        assert all(c.ended_at is not None for c in answered)

    # The stored call records, as the API shows them (and their causes, from the database).
    stored = _calls(api, campaign_id)
    attempts = api.run(_attempts, api.state, campaign_id)
    assert {a.call_id for a in attempts} == set(stored)
    numbers: dict[str, str] = {}
    for attempt in attempts:
        assert attempt.call_id is not None
        numbers[attempt.call_id] = api.run(_lead_number, api.state, attempt.lead_id)[-5:]
    answered_ids = sorted(cid for cid, number in numbers.items() if number in ANSWERING)
    busy_ids = [cid for cid, number in numbers.items() if number == "20000"]
    assert len(answered_ids) == 2
    assert len(busy_ids) == 1
    assert set(popped) == set(answered_ids)
    for call_id in answered_ids:
        call = stored[call_id]
        assert call["result"] == "answered", call
        assert call["work_id"] == popped[call_id]
        assert call["answered_at"] is not None
        assert call["outcome"]
        assert call["abandoned"] is False
    busy = stored[busy_ids[0]]
    assert busy["result"] == "busy", busy
    assert busy["work_id"] is None
    assert busy["answered_at"] is None
    by_id = {a.call_id: a for a in attempts}
    assert by_id[busy_ids[0]].cause == "17"  # 486 Busy Here → Q.850 17
    for call_id in answered_ids:
        attempt = by_id[call_id]
        assert attempt.bridged_at is not None
        assert attempt.recording_path == f"{asterisk.monitor_dir}/{call_id}.wav"
    replay = api.request("team_lead", "GET", f"/calls/{busy_ids[0]}")
    assert replay.status_code == 200, replay.text
    hangups = [e for e in replay.json()["timeline"] if e["kind"] == "HungUp"]
    assert [h.get("q850") for h in hangups] == [17], hangups

    # Each answered call's recording was collected by the pool's keeper after the call (MixMonitor closes
    # the file on its own thread): a row with size and SHA-256, the file 0600 under recordings_dir.
    store = tmp_path / "recordings"

    def recorded() -> bool:
        return len(api.run(_recordings, api.state, answered_ids)) == len(answered_ids)

    _wait(recorded, "the keeper to store both recordings", 30)
    kept = time.monotonic()
    for row in api.run(_recordings, api.state, answered_ids):
        _check_stored_file(row, store)
        assert row.work_id == popped[row.call_id]
        assert row.vendor_id == api.seed.vendor_a
        seconds, peak = audio_of(Path(row.path))
        assert seconds >= TALK_SECONDS - 0.5, (row.call_id, seconds)
        assert peak > 1000, (row.call_id, peak)  # the customer's voice, not silence
        assert row.duration_seconds is not None
        assert not (asterisk.recordings / f"{row.call_id}.wav").exists()  # moved out of Asterisk's spool

    # The wallboard still shows the dialer on Asterisk; then the campaign is stopped through the API.
    live = _live(api, campaign_id)
    assert live["telephony"] == "asterisk"
    assert live["ami_state"] == "connected"
    assert live["placed"] == len(LEADS)
    assert live["answered"] == 2
    assert live["abandoned"] == 0
    stop = api.request("team_lead", "POST", f"/campaigns/{campaign_id}/stop")
    assert stop.status_code == 200, stop.text
    pool = dialers_of(api.state)
    _wait(lambda: campaign_id not in pool.live, "the dialer to stop", 15)
    assert _live(api, campaign_id)["running"] is False
    print(  # the timings, in -s output
        f"dialed {dialed - started:.1f} s, recordings kept {kept - dialed:.1f} s later, "
        f"stopped {time.monotonic() - kept:.1f} s later"
    )


async def _lead_number(state: AppState, lead_id: int) -> str:
    async with state.sessions() as session:
        lead = await session.get(Lead, lead_id)
        assert lead is not None
        return state.vault.decrypt(lead.phone_enc)
