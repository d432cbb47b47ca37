"""``waihu qa``: call replays and QA reviews from the terminal, through the same services as the API.

Every command acts as a work ID (``--as``), with that work ID's permissions and vendor scope; without
``--as`` a replay is read as the operator (a client admin, like the other CLI commands); unmasking always
names the work ID (``--as``) that sees the data.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from agents.errors import NotFound
from agents.models import User
from agents.permissions import require
from api.deps import Caller
from waihu.cli import get_settings, run_with_engine

T = TypeVar("T")
OPERATOR = "cli"


def _operator() -> User:
    return User(work_id=OPERATOR, role="admin", vendor_id=None, status="active", permissions=None)


def _run(as_: str | None, permission: str, work: Callable[[Caller], Awaitable[T]]) -> T:
    from api.app import build_state

    settings = get_settings()

    async def go(engine: AsyncEngine) -> T:
        state = build_state(settings, engine)
        async with state.sessions() as session:
            user = _operator() if as_ is None else await session.get(User, as_)
            if user is None:
                raise NotFound(f"no work ID {as_}", details={"work_id": as_})
            require(user, permission)
            return await work(Caller(user=user, session=session, state=state, token="", via_cookie=False))

    return run_with_engine(settings, go)


def _echo(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def _review_json(review: Any) -> dict[str, Any]:
    from api.routes.qa import review_out

    return review_out(review).model_dump(mode="json")


as_option = click.option("--as", "as_", metavar="WORK_ID", help="Act as this work ID (its permissions and vendor).")


@click.group("qa", help="QA: replay calls, and review them against the discipline sheet.")
def qa() -> None:
    pass


@qa.command("replay", help="The replay JSON of a call: events and script steps on one timeline (PII masked).")
@click.argument("call_id")
@as_option
@click.option("--unmask", is_flag=True, help="Show PII unmasked (needs --as with pii.unmask, and --reason; audited).")
@click.option("--reason", default=None, help="Why (required with --unmask).")
def replay(call_id: str, as_: str | None, unmask: bool, reason: str | None) -> None:
    from api.services import call_detail

    if unmask and not (reason and reason.strip()):
        raise click.UsageError("--unmask needs --reason")
    if unmask and not as_:
        # who saw the customer's data is a person, in the audit log: not the operator's shell
        raise click.UsageError("--unmask needs --as WORK_ID (a work ID holding pii.unmask)")
    _echo(_run(as_, "qa.view", lambda c: call_detail(c, call_id, permission="qa.view", unmask=unmask, reason=reason)))


@qa.command(
    "sample",
    help="The week's calls to review, per agent (weighted to short calls, refusals and missed checkpoints; "
    "the same week gives the same calls). Numbers masked.",
)
@click.option("--week", default=None, metavar="YYYY-Www", help="ISO week, e.g. 2026-W48 (default: this week).")
@click.option("--campaign", "campaign_id", type=click.IntRange(min=1), default=None, help="Only this campaign.")
@click.option(
    "--per-agent",
    type=click.IntRange(0, 100),
    default=None,
    help="Calls per agent (default: the setting WAIHU_QA_SAMPLES_PER_AGENT_WEEK).",
)
@as_option
def sample(week: str | None, campaign_id: int | None, per_agent: int | None, as_: str | None) -> None:
    from api.routes.qa import review_sample

    async def work(caller: Caller) -> dict[str, Any]:
        found = await review_sample(caller, week=week, campaign_id=campaign_id, per_agent=per_agent)
        return found.model_dump(mode="json")

    _echo(_run(as_, "qa.review", work))


@qa.group("review", help="QA reviews: start, score, submit; the agent acknowledges.")
def review() -> None:
    pass


@review.command("start", help="Start a draft review of CALL_ID; automatic items come pre-scored.")
@click.argument("call_id")
@click.option("--as", "as_", metavar="WORK_ID", required=True, help="The reviewer.")
@click.option("--sheet", default="discipline", show_default=True, help="Sheet id (or id@version).")
def start(call_id: str, as_: str, sheet: str) -> None:
    from api.services import start_review

    async def work(caller: Caller) -> dict[str, Any]:
        return _review_json(await start_review(caller, call_id, sheet))

    _echo(_run(as_, "qa.review", work))


@review.command("score", help="Give ITEM of REVIEW_ID its POINTS.")
@click.argument("review_id", type=int)
@click.argument("item")
@click.argument("points", type=int)
@click.option("--as", "as_", metavar="WORK_ID", required=True, help="The reviewer.")
@click.option("--comment", default=None, help="Needed when overruling an automatic check.")
@click.option("--at", "at", type=float, default=None, help="Seconds into the recording.")
def score(review_id: int, item: str, points: int, as_: str, comment: str | None, at: float | None) -> None:
    from recordings import reviews

    async def work(caller: Caller) -> dict[str, Any]:
        done = await reviews.score_item(
            caller.session, review_id, viewer=caller.viewer, item_id=item, points=points, comment=comment, at=at
        )
        await caller.session.commit()
        return _review_json(done)

    _echo(_run(as_, "qa.review", work))


@review.command("submit", help="Submit REVIEW_ID (every item scored).")
@click.argument("review_id", type=int)
@click.option("--as", "as_", metavar="WORK_ID", required=True, help="The reviewer.")
def submit(review_id: int, as_: str) -> None:
    from recordings import reviews

    async def work(caller: Caller) -> dict[str, Any]:
        done = await reviews.submit(
            caller.session, caller.state.audit, review_id, viewer=caller.viewer, now=caller.now()
        )
        await caller.session.commit()
        return _review_json(done)

    _echo(_run(as_, "qa.review", work))


@review.command("ack", help="The call's agent acknowledges REVIEW_ID (or disputes it with --dispute).")
@click.argument("review_id", type=int)
@click.option("--as", "as_", metavar="WORK_ID", required=True, help="The call's agent.")
@click.option("--dispute", is_flag=True, help="Dispute instead of acknowledging (needs --comment).")
@click.option("--comment", default=None)
def ack(review_id: int, as_: str, dispute: bool, comment: str | None) -> None:
    from recordings import reviews

    async def work(caller: Caller) -> dict[str, Any]:
        done = await reviews.respond(
            caller.session,
            caller.state.audit,
            review_id,
            agent=caller.viewer,
            accept=not dispute,
            comment=comment,
            now=caller.now(),
        )
        await caller.session.commit()
        return _review_json(done)

    _echo(_run(as_, "call.take", work))


@qa.command("purge-recordings", help="Delete recordings past their retention; their rows stay as tombstones.")
def purge_recordings() -> None:
    from recordings.access import purge_expired
    from waihu.db import utcnow

    async def work(caller: Caller) -> list[str]:
        purged = await purge_expired(caller.session, caller.state.audit, now=utcnow())
        await caller.session.commit()
        return purged

    purged = _run(None, "recording.download", work)
    click.echo(f"{len(purged)} recording(s) past retention deleted; tombstones kept")
