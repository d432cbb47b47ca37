"""An API on a fresh SQLite database with two vendors, one work ID per role, campaigns, calls and recordings.

The app runs in starlette's TestClient (its lifespan in the client's event loop); seeding and the
fresh objects some tests need run in that same loop through the client's portal.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from httpx2 import Response
from sqlalchemy import select

from agents.auth import login
from agents.faults import acknowledge_fault, report_fault
from agents.lifecycle import request_change
from agents.models import User, Vendor
from api.app import create_app
from api.deps import AppState
from api.models import WebhookEndpoint
from api.ws import console_of
from dialer.campaigns import create_campaign, set_state
from dialer.models import CallAttempt, CallEventRow, Lead
from recordings import reviews
from recordings.models import RecordingFile
from waihu.db import utcnow
from waihu.settings import load_settings

T = TypeVar("T")

FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "Passw0rd-test"
FLOW = "mobile-newspaper-trial@1"
#: the customer's number and ID number of vendor A's call: they must never appear unmasked
PHONE = "13812345678"
ID_NUMBER = "110101199003071234"
#: one work ID per role of vendor A (admin: the client), and a team lead of vendor B
ACTORS: dict[str, str] = {
    "trainee": "TR1",
    "agent": "AG1",
    "team_lead": "TL1",
    "ops_manager": "OM1",
    "qa": "QA1",
    "admin": "AD1",
    "other_vendor_team_lead": "TLB",
}
ROLE_OF: dict[str, str] = {actor: ("team_lead" if actor == "other_vendor_team_lead" else actor) for actor in ACTORS}
RECORDING_BYTES = bytes(range(256)) * 40  # 10,240 bytes


@dataclass
class Seed:
    vendor_a: int
    vendor_b: int
    campaign_a: int
    campaign_b: int
    call_a: str
    call_b: str
    fault_a: int
    review_a: int
    webhook_a: int
    counter: list[int] = field(default_factory=lambda: [0])

    def unique(self, prefix: str) -> str:
        self.counter[0] += 1
        return f"{prefix}{self.counter[0]}"


async def _user(state: AppState, work_id: str) -> User:
    async with state.sessions() as session:
        user = await session.get(User, work_id)
        assert user is not None
        return user


def _new_user(state: AppState, work_id: str, role: str, vendor_id: int | None) -> User:
    now = utcnow()
    return User(
        work_id=work_id,
        name_enc=state.vault.encrypt(f"测试{work_id}"),
        role=role,
        vendor_id=vendor_id,
        status="active",
        skills=[],
        password_hash=FAST_HASHER.hash(PASSWORD),
        password_changed_at=now,
        must_change_password=False,
        failed_logins=0,
        live_from=now,
        created_at=now,
    )


async def add_call(
    state: AppState,
    campaign_id: int,
    call_id: str,
    work_id: str,
    vendor_id: int,
    path: Path,
    started: datetime | None = None,
) -> None:
    """A finished, answered call of the campaign with its events, transcript and recording (PHONE's lead)."""
    now = started or utcnow() - timedelta(hours=1)
    e164 = "+86" + PHONE
    async with state.sessions() as session, session.begin():
        phone_hash = state.vault.lookup_hash(e164, "phone")
        lead = await session.scalar(select(Lead).where(Lead.campaign_id == campaign_id, Lead.phone_hash == phone_hash))
        if lead is None:
            lead = Lead(
                campaign_id=campaign_id,
                phone_enc=state.vault.encrypt(e164),
                phone_hash=phone_hash,
                phone_masked="138****5678",
                name_enc=state.vault.encrypt("王小明"),
                variables_enc=state.vault.encrypt(json.dumps({"id_number": ID_NUMBER})),
                status="done",
                attempts=1,
                next_attempt_at=now,
                created_at=now,
            )
            session.add(lead)
            await session.flush()
        session.add(
            CallAttempt(
                lead_id=lead.id,
                campaign_id=campaign_id,
                phone_hash=lead.phone_hash,
                started_at=now,
                ended_at=now + timedelta(seconds=40),
                result="answered",
                outcome="wrong_party",
                outcome_category="wrong_party",
                abandoned=False,
                call_id=call_id,
                work_id=work_id,
                answered_at=now + timedelta(seconds=5),
                bridged_at=now + timedelta(seconds=5),
                wrap_up_seconds=4.0,
                flow_ref=FLOW,
                flow_started_at=now + timedelta(seconds=5),
                transcript=[
                    {"at": 0.0, "kind": "enter", "state": "connect"},
                    {"at": 6.0, "kind": "choose", "state": "connect", "label": "不是机主"},
                    {"at": 6.0, "kind": "outcome", "state": "connect", "label": "wrong_party"},
                ],
                tags=[],
                captured_enc=state.vault.encrypt(json.dumps({})),
                recording_path=str(path),
            )
        )
        for offset, kind in ((0, "originated"), (2, "ringing"), (5, "answered"), (40, "hungup")):
            session.add(CallEventRow(call_id=call_id, at=now + timedelta(seconds=offset), kind=kind, details={}))
        await asyncio.to_thread(path.write_bytes, RECORDING_BYTES)
        session.add(
            RecordingFile(
                call_id=call_id,
                vendor_id=vendor_id,
                work_id=work_id,
                path=str(path),
                duration_seconds=35.0,
                answer_offset=0.0,
                created_at=now,
                expires_at=now + timedelta(days=180),
            )
        )


async def seed(state: AppState, tmp: Path) -> Seed:
    now = utcnow()
    async with state.sessions() as session, session.begin():
        va = Vendor(code="va", name="甲公司", id_quota=500, created_at=now)
        vb = Vendor(code="vb", name="乙公司", id_quota=500, created_at=now)
        session.add_all([va, vb])
        await session.flush()
        for actor, work_id in ACTORS.items():
            role = ROLE_OF[actor]
            vendor = None if role == "admin" else (vb.id if actor == "other_vendor_team_lead" else va.id)
            session.add(_new_user(state, work_id, role, vendor))
        session.add(_new_user(state, "AGB", "agent", vb.id))
        await session.flush()
        campaigns = []
        for name, vendor_id, agent in (("甲活动", va.id, "AG1"), ("乙活动", vb.id, "AGB")):
            campaign = await create_campaign(
                session,
                registry=state.flows,
                audit=state.audit,
                name=name,
                vendor_id=vendor_id,
                flow=FLOW,
                created_by="TL1",
                agents=[agent],
                now=now,
            )
            campaigns.append(campaign.id)
        vendor_a, vendor_b = va.id, vb.id
    await add_call(state, campaigns[0], "call-a-1", "AG1", vendor_a, tmp / "call-a-1.wav")
    await add_call(state, campaigns[1], "call-b-1", "AGB", vendor_b, tmp / "call-b-1.wav")
    fault_a = await new_fault(state, acknowledged=False)
    review_a = await new_review(state, "QA1", "call-a-1", stage="draft")
    async with state.sessions() as session, session.begin():
        webhook = WebhookEndpoint(
            campaign_id=campaigns[0],
            url="http://127.0.0.1:9/hook",
            secret_enc=state.vault.encrypt("s3cret"),
            include_pii=False,
            active=False,  # listed, never delivered to
            created_by="TL1",
            created_at=now,
        )
        session.add(webhook)
        await session.flush()
        webhook_a = webhook.id
    return Seed(vendor_a, vendor_b, campaigns[0], campaigns[1], "call-a-1", "call-b-1", fault_a, review_a, webhook_a)


# --- fresh objects for tests that change them -----------------------------------------------------


async def new_campaign(state: AppState, vendor_id: int, name: str, path: tuple[str, ...] = ()) -> int:
    async with state.sessions() as session, session.begin():
        campaign = await create_campaign(
            session,
            registry=state.flows,
            audit=state.audit,
            name=name,
            vendor_id=vendor_id,
            flow=FLOW,
            created_by="TL1",
        )
        for target in path:
            await set_state(session, state.audit, campaign.id, target, actor="TL1")
        return campaign.id


async def new_fault(state: AppState, *, acknowledged: bool, description: str | None = None) -> int:
    agent = await _user(state, "AG1")
    admin = await _user(state, "AD1")
    text = description or f"耳机无声，客户{PHONE}听不到，身份证{ID_NUMBER}"
    async with state.sessions() as session, session.begin():
        report = await report_fault(state.agents, session, agent, seat_id=None, description=text, now=utcnow())
        if acknowledged:
            await acknowledge_fault(state.agents, session, admin, report.id, now=utcnow())
        return report.id


async def new_request(state: AppState, work_id: str) -> int:
    lead = await _user(state, "TL1")
    async with state.sessions() as session, session.begin():
        request = await request_change(
            state.agents,
            session,
            lead,
            kind="create_trainee",
            work_id=work_id,
            effective_at=utcnow() + timedelta(hours=1),
            reason="新员工",
            name="新员工",
            now=utcnow(),
        )
        return request.id


async def new_logged_in_agent(state: AppState, work_id: str, vendor_id: int) -> str:
    async with state.sessions() as session, session.begin():
        session.add(_new_user(state, work_id, "agent", vendor_id))
    async with state.sessions() as session:
        result = await login(state.agents, session, work_id, PASSWORD, seat_id=None, now=utcnow())
    return result.token


async def new_review(state: AppState, reviewer: str, call_id: str, *, stage: str) -> int:
    """A review by ``reviewer`` at ``stage``: draft, scored (every item), submitted."""
    from api import services
    from api.deps import Caller

    user = await _user(state, reviewer)
    async with state.sessions() as session:
        caller = Caller(user=user, session=session, state=state, token="", via_cookie=False)
        review = await services.start_review(caller, call_id, "discipline")
        if stage in ("scored", "submitted"):
            for item_id, item in review.items.items():
                if item["points"] is None:
                    await reviews.score_item(
                        session, review.id, viewer=caller.viewer, item_id=item_id, points=int(str(item["max"]))
                    )
        if stage == "submitted":
            await reviews.submit(session, state.audit, review.id, viewer=caller.viewer, now=utcnow())
        await session.commit()
        return review.id


# --- the client ------------------------------------------------------------------------------------


class Api:
    """A TestClient with the seeded world and a bearer token per actor."""

    def __init__(self, client: TestClient, seed: Seed) -> None:
        self.client = client
        self.seed = seed
        self.tokens: dict[str, str] = {}
        self._started: list[Future[Any]] = []

    @property
    def state(self) -> AppState:
        state = self.client.app.state.waihu  # type: ignore[attr-defined]
        assert isinstance(state, AppState)
        return state

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Run a coroutine function in the app's event loop."""
        portal = self.client.portal
        assert portal is not None
        return portal.call(functools.partial(fn, *args, **kwargs))

    def start(self, fn: Callable[..., Awaitable[T]], *args: Any) -> Future[T]:
        """Start a coroutine function in the app's event loop and go on; its future. A task still running when
        the test ends is cancelled (the client's exit would otherwise wait for it for ever)."""
        portal = self.client.portal
        assert portal is not None
        future = portal.start_task_soon(fn, *args)
        self._started.append(future)
        return future

    def cancel_started(self) -> None:
        for future in self._started:
            future.cancel()

    def login(self, work_id: str, password: str = PASSWORD) -> Response:
        response = self.client.post("/auth/login", json={"work_id": work_id, "password": password})
        self.client.cookies.clear()  # bearer tests must not ride on the session cookie
        return response

    def token(self, actor: str) -> str:
        if actor not in self.tokens:
            response = self.login(ACTORS[actor])
            assert response.status_code == 200, response.text
            self.tokens[actor] = response.json()["token"]
        return self.tokens[actor]

    def request(self, actor: str | None, method: str, path: str, **kwargs: Any) -> Response:
        headers = dict(kwargs.pop("headers", {}) or {})
        if actor is not None:
            headers["Authorization"] = f"Bearer {self.token(actor)}"
        return self.client.request(method, path, headers=headers, **kwargs)


def build_api(tmp: Path) -> Iterator[Api]:
    settings = load_settings(
        database_url=f"sqlite+aiosqlite:///{tmp / 'api.db'}", key_file=tmp / "api.key", timezone="Asia/Shanghai"
    )
    app = create_app(settings, hasher=FAST_HASHER, run_migrations=True)
    with TestClient(app) as client:
        state = client.app.state.waihu  # type: ignore[attr-defined]
        portal = client.portal
        assert portal is not None
        seeded = portal.call(seed, state, tmp)
        api = Api(client, seeded)
        try:
            yield api
        finally:
            api.cancel_started()


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """A fresh API and database for one test."""
    yield from build_api(tmp_path)


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One API for a module of tests that only need the seeded world (and make their own fresh objects)."""
    yield from build_api(tmp_path_factory.mktemp("api"))


def wait_connected(api: Api, work_id: str) -> None:
    """Until the agent's console socket is attached to the hub (at most 5 s)."""
    hub = console_of(api.state)
    deadline = time.monotonic() + 5
    while not hub.connected(work_id):
        assert time.monotonic() < deadline, "the console never connected"
        time.sleep(0.01)
