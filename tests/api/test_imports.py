"""Background lead uploads are jobs in the database: progress while they run, the masked report after, read by
any app instance on the database, and ``interrupted`` (with the rows read) when their server stopped first.

Each test runs on SQLite and on PostgreSQL. A gate in front of the real importer holds a job at a known row
count (as if it had read that far), so the tests wait on the status endpoint, never on luck.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

import api.imports
from api.app import create_app
from api.deps import AppState
from api.imports import PROGRESS_EVERY
from api.models import LeadImportJob
from dialer.leads import import_leads
from tests.api.conftest import FAST_HASHER, PHONE, Api, seed
from tests.api.test_dialing import _wait
from tests.conftest import pg_schema, pg_url
from waihu.db import utcnow
from waihu.settings import load_settings

#: rows the gated importer says it has read while it is held
HELD = 120
BAD_PHONE = "1380013800"  # ten digits: not a valid number
GOOD = [f"1370000{i:04d}" for i in range(300)]
#: 300 good rows, one bad number, one number already in the seeded campaign, one repeated row: 303 rows
CSV = ("phone,name\n" + "".join(f"{p},客户{i}\n" for i, p in enumerate(GOOD)) + f"{BAD_PHONE},坏号码\n").encode()
CSV += f"{PHONE},王小明\n{GOOD[7]},又一次\n".encode()
ROWS = 303


@dataclass
class Database:
    url: str
    engine_kwargs: dict[str, Any]
    tmp: Path


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A fresh SQLite file or PostgreSQL schema that several app instances can share."""
    if request.param == "sqlite":
        yield Database(f"sqlite+aiosqlite:///{tmp_path / 'api.db'}", {}, tmp_path)
        return
    url = pg_url()
    schema = f"waihu_imp_{uuid.uuid4().hex[:8]}"
    asyncio.run(pg_schema(url, f'CREATE SCHEMA "{schema}"'))
    try:
        yield Database(url, {"connect_args": {"server_settings": {"search_path": schema}, "timeout": 10}}, tmp_path)
    finally:
        asyncio.run(pg_schema(url, f'DROP SCHEMA "{schema}" CASCADE'))


@contextmanager
def app_on(db: Database, like: Api | None = None, now: Callable[[], datetime] = utcnow) -> Iterator[Api]:
    """An app instance on ``db``: the first one seeds the world, the next ones (``like``) share its world and its
    logins (sessions live in the database). Its lifespan ends with the block."""
    settings = load_settings(database_url=db.url, key_file=db.tmp / "api.key", recordings_dir=db.tmp / "rec")
    app = create_app(settings, hasher=FAST_HASHER, run_migrations=True, engine_kwargs=db.engine_kwargs, now=now)
    with TestClient(app) as client:
        if like is not None:
            other = Api(client, like.seed)
            other.tokens = like.tokens
            yield other
            return
        portal = client.portal
        assert portal is not None
        yield Api(client, portal.call(seed, client.app.state.waihu, db.tmp))  # type: ignore[attr-defined]


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Imports say they have read HELD rows, then wait until the event is set before the real import runs."""
    opened = threading.Event()

    async def gated(*args: Any, progress: Callable[[int, int], None] | None = None, **kwargs: Any) -> Any:
        if progress is not None:
            progress(HELD, ROWS)
        while not opened.is_set():  # noqa: ASYNC110  (set from the test's thread; stays cancellable)
            await asyncio.sleep(0.01)
        return await import_leads(*args, progress=progress, **kwargs)

    monkeypatch.setattr(api.imports, "import_leads", gated)
    yield opened
    opened.set()


def _upload(app: Api, campaign_id: int, data: bytes = CSV) -> str:
    answer = app.request(
        "team_lead",
        "POST",
        f"/campaigns/{campaign_id}/leads",
        params={"background": "true"},
        files={"file": ("leads.csv", data, "text/csv")},
    )
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert (job["state"], job["done"], job["total"], job["report"], job["error"]) == ("running", 0, ROWS, None, None)
    return str(job["import_id"])


def _job(app: Api, campaign_id: int, import_id: str) -> dict[str, Any]:
    answer = app.request("team_lead", "GET", f"/campaigns/{campaign_id}/imports/{import_id}")
    assert answer.status_code == 200, answer.text
    job: dict[str, Any] = answer.json()
    return job


def _held(app: Api, campaign_id: int, import_id: str) -> dict[str, Any]:
    """The job once its progress reached the database: running, HELD rows read."""
    _wait(lambda: _job(app, campaign_id, import_id)["done"] == HELD, "the progress to be saved")
    job = _job(app, campaign_id, import_id)
    assert (job["state"], job["done"], job["total"]) == ("running", HELD, ROWS)
    return job


def _finished(app: Api, campaign_id: int, import_id: str) -> dict[str, Any]:
    _wait(lambda: _job(app, campaign_id, import_id)["state"] != "running", "the import to finish")
    return _job(app, campaign_id, import_id)


async def _row(state: AppState, import_id: str) -> LeadImportJob:
    async with state.sessions() as session:
        return await session.get_one(LeadImportJob, import_id)


def _assert_report(job: dict[str, Any]) -> None:
    assert (job["state"], job["done"], job["total"], job["error"]) == ("done", ROWS, ROWS, None)
    report = job["report"]
    assert (report["rows"], report["imported"], report["dnc_skipped"]) == (ROWS, 300, 0)
    assert [(e["row"], e["column"], e["reason"]) for e in report["errors"]] == [
        (302, "phone", "not a valid phone number")
    ]
    assert [(d["row"], d["reason"]) for d in report["duplicates"]] == [
        (303, "already in the campaign"),
        (304, "duplicate of row 9"),
    ]
    assert report["duplicates"][0]["value"] == "138****5678"
    for value in [e["value"] for e in report["errors"]] + [d["value"] for d in report["duplicates"]]:
        assert "*" in value  # every value shown is masked


def _assert_no_raw_phone(text: str) -> None:
    for raw in (PHONE, BAD_PHONE, GOOD[7], "86" + GOOD[7]):
        assert raw not in text


def test_a_background_upload_shows_its_progress_then_its_masked_report(
    database: Database, gate: threading.Event
) -> None:
    with app_on(database) as app:
        campaign = app.seed.campaign_a
        import_id = _upload(app, campaign)
        _held(app, campaign, import_id)
        gate.set()
        done = _finished(app, campaign, import_id)
        _assert_report(done)
        _assert_no_raw_phone(json.dumps(done))
        row = app.run(_row, app.state, import_id)
        assert (row.campaign_id, row.started_by, row.state) == (campaign, "TL1", "done")
        assert row.finished_at is not None
        assert row.finished_at >= row.created_at
        assert row.report == done["report"]  # what is stored is what the API answers
        _assert_no_raw_phone(json.dumps(row.report))
        other = app.request("other_vendor_team_lead", "GET", f"/campaigns/{campaign}/imports/{import_id}")
        assert other.status_code == 404
        assert app.request("team_lead", "GET", f"/campaigns/{app.seed.campaign_b}/imports/{import_id}").status_code in (
            403,
            404,
        )


def test_progress_is_saved_at_most_about_once_a_second(database: Database, gate: threading.Event) -> None:
    with app_on(database) as app:
        campaign = app.seed.campaign_a
        import_id = _upload(app, campaign)
        _held(app, campaign, import_id)
        first = app.run(_row, app.state, import_id).heartbeat_at
        live = api.imports.imports_of(app.state).jobs[import_id]
        seen: list[datetime] = []
        deadline = first + timedelta(seconds=2.5 * PROGRESS_EVERY)
        while utcnow() < deadline:
            live.done += 1  # rows keep coming
            beat = app.run(_row, app.state, import_id).heartbeat_at
            if beat not in seen and beat != first:
                seen.append(beat)
        assert 1 <= len(seen) <= 3  # about one write a second, however fast the rows come
        assert all(b - a >= timedelta(seconds=0.9 * PROGRESS_EVERY) for a, b in zip([first, *seen], seen, strict=False))
        gate.set()
        assert _finished(app, campaign, import_id)["state"] == "done"


def test_a_job_started_by_one_app_is_read_by_another_on_the_same_database(
    database: Database, gate: threading.Event
) -> None:
    with app_on(database) as first:
        campaign = first.seed.campaign_a
        with app_on(database, first) as second:
            import_id = _upload(first, campaign)
            assert import_id not in api.imports.imports_of(second.state).jobs  # nothing shared but the database
            _held(second, campaign, import_id)
            gate.set()
            done = _finished(second, campaign, import_id)
            _assert_report(done)
            _assert_no_raw_phone(json.dumps(done))
            assert _job(first, campaign, import_id) == done
            missing = second.request("team_lead", "GET", f"/campaigns/{campaign}/imports/{uuid.uuid4().hex}")
            assert missing.status_code == 404


def test_a_job_whose_server_stops_mid_import_is_interrupted_after_the_restart(
    database: Database, gate: threading.Event
) -> None:
    with app_on(database) as first:
        campaign = first.seed.campaign_a
        import_id = _upload(first, campaign)
        _held(first, campaign, import_id)
    # the app stopped with the import held at HELD rows
    with app_on(database, first) as restarted:
        job = _job(restarted, campaign, import_id)
        assert (job["state"], job["done"], job["total"], job["report"]) == ("interrupted", HELD, ROWS, None)
        assert job["error"]["error_id"] == "api.import_interrupted"
        assert f"after reading {HELD} of {ROWS} rows" in job["error"]["message"]
        assert "Upload the same file again" in job["error"]["message"]


async def _left_running(state: AppState, campaign_id: int, heartbeat: datetime) -> str:
    import_id = uuid.uuid4().hex
    async with state.sessions() as session, session.begin():
        session.add(
            LeadImportJob(
                id=import_id,
                campaign_id=campaign_id,
                started_by="TL1",
                state="running",
                done=4200,
                total=9000,
                created_at=heartbeat - timedelta(minutes=1),
                heartbeat_at=heartbeat,
            )
        )
    return import_id


def test_jobs_left_running_by_a_dead_process_are_interrupted_and_live_ones_are_left_alone(
    database: Database,
) -> None:
    with app_on(database) as first:
        campaign = first.seed.campaign_a
        # a process died ten minutes into an import; another one (still alive) saved its progress just now
        dead = first.run(_left_running, first.state, campaign, utcnow() - timedelta(minutes=10))
        alive = first.run(_left_running, first.state, campaign, utcnow())
    ahead = [timedelta(0)]
    with app_on(database, first, now=lambda: utcnow() + ahead[0]) as restarted:
        swept = restarted.run(_row, restarted.state, dead)
        assert swept.state == "interrupted"  # at start-up, before anyone asked
        assert swept.finished_at is not None
        job = _job(restarted, campaign, dead)
        assert (job["state"], job["done"], job["total"]) == ("interrupted", 4200, 9000)
        assert job["error"]["error_id"] == "api.import_interrupted"
        assert "after reading 4200 of 9000 rows" in job["error"]["message"]

        assert _job(restarted, campaign, alive)["state"] == "running"  # its heartbeat is fresh
        ahead[0] = timedelta(minutes=2)  # ... and then it stops coming
        later = _job(restarted, campaign, alive)
        assert (later["state"], later["done"]) == ("interrupted", 4200)
        assert restarted.run(_row, restarted.state, alive).state == "interrupted"


def test_uploading_the_same_file_again_imports_nothing_twice(database: Database) -> None:
    with app_on(database) as app:
        campaign = app.seed.campaign_a
        _assert_report(_finished(app, campaign, _upload(app, campaign)))
        again = _finished(app, campaign, _upload(app, campaign))
        report = again["report"]
        assert (again["state"], report["imported"]) == ("done", 0)
        assert len(report["duplicates"]) == 302  # every good row is already in the campaign
        assert {d["reason"] for d in report["duplicates"][:300]} == {"already in the campaign"}


async def _stored(state: AppState) -> list[LeadImportJob]:
    async with state.sessions() as session:
        return list((await session.scalars(select(LeadImportJob).order_by(LeadImportJob.created_at))).all())


def test_an_upload_without_background_is_recorded_too(database: Database) -> None:
    with app_on(database) as app:
        campaign = app.seed.campaign_a
        answer = app.request(
            "team_lead", "POST", f"/campaigns/{campaign}/leads", files={"file": ("leads.csv", CSV, "text/csv")}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["imported"] == 300
        (row,) = app.run(_stored, app.state)
        assert (row.state, row.done, row.report) == ("done", ROWS, answer.json())
        failed = app.request(
            "team_lead",
            "POST",
            f"/campaigns/{campaign}/leads",
            params={"background": "true"},
            files={"file": ("leads.csv", f"{PHONE},王小明\n".encode(), "text/csv")},
        )
        assert failed.status_code == 202
        job = _finished(app, campaign, failed.json()["import_id"])
        assert job["state"] == "failed"
        assert job["error"]["error_id"] == "dialer.import_failed"
        assert PHONE not in json.dumps(job)  # the "header" was a customer's row


def test_an_excel_chinese_csv_is_read_and_the_report_says_how(database: Database) -> None:
    with app_on(database) as app:
        campaign = app.seed.campaign_a
        gbk = "phone,name\n13700137000,张三丰\n".encode("gbk")
        answer = app.request(
            "team_lead", "POST", f"/campaigns/{campaign}/leads", files={"file": ("名单.csv", gbk, "text/csv")}
        )
        assert answer.status_code == 200, answer.text
        assert (answer.json()["imported"], answer.json()["encoding"]) == (1, "gb18030")
        plain = app.request(
            "team_lead",
            "POST",
            f"/campaigns/{campaign}/leads",
            files={"file": ("b.csv", "phone,name\n13700137001,李四\n".encode(), "text/csv")},
        )
        assert plain.json()["encoding"] == "utf-8"
