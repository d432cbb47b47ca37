"""Campaigns: create from a pinned script version, list and read with live stats, upload leads, steer; DNC."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Annotated, cast

import phonenumbers
from fastapi import APIRouter, Depends, File, Path, Query, Response, UploadFile
from pydantic import AwareDatetime
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.permissions import require
from api import services, webhooks
from api.deps import Caller, require_permission
from api.dialing import dialers_of
from api.errors import ApiError, ObjectNotFound
from api.imports import error_of, imports_of, read_job, report_json
from api.models import LeadImportJob, WebhookDelivery, WebhookEndpoint
from api.qa_service import campaign_funnel
from api.schemas.campaigns import (
    CampaignIn,
    CampaignLiveOut,
    CampaignOut,
    CampaignStatsOut,
    DeliveryOut,
    DncIn,
    DncOut,
    FunnelOut,
    FunnelStateOut,
    ImportJobOut,
    ImportJobState,
    ImportReportOut,
    LeadListIn,
    LeadListOut,
    WebhookCreated,
    WebhookIn,
    WebhookOut,
)
from api.schemas.common import ERRORS, Id
from dialer.campaigns import create_campaign, set_state
from dialer.dnc import InvalidPhone, add_phone
from dialer.errors import CampaignStateError
from dialer.leads import ImportReport
from dialer.lists import NAME_MAX, ListCounts, clean_name, list_counts, set_list_active
from dialer.models import DEFAULT_CALLING_WINDOWS, Campaign, CampaignAgent
from waihu.pii import mask_phone, mask_text, normalise_phone

router = APIRouter(tags=["campaigns"], responses=ERRORS)
dnc_router = APIRouter(tags=["campaigns"], responses=ERRORS)

#: the largest lead file the API takes in one upload (bigger lists: `waihu leads import`)
MAX_UPLOAD_BYTES = 20 * 1024 * 1024


def campaign_out(campaign: Campaign, stats: services.CampaignStats | None, agents: list[str]) -> CampaignOut:
    """Every setting the campaign was created with; free text (name, safe-harbor message) masked. The caller
    and call-back numbers are the company's, not a customer's: shown as stored."""
    return CampaignOut(
        id=campaign.id,
        name=mask_text(campaign.name),
        vendor_id=campaign.vendor_id,
        flow=f"{campaign.flow_id}@{campaign.flow_version}",
        flow_digest=campaign.flow_digest,
        dial_mode=campaign.dial_mode,
        state=campaign.state,
        training=campaign.training,
        agents=agents,
        calling_windows=campaign.calling_windows,
        timezone=campaign.timezone,
        max_abandon_rate=campaign.max_abandon_rate,
        retry_rules=campaign.retry_rules,
        caller_id=campaign.caller_id,
        consent_required=campaign.consent_required,
        safe_harbor_message=mask_text(campaign.safe_harbor_message) if campaign.safe_harbor_message else None,
        callback_number=campaign.callback_number,
        wrap_up_limit_seconds=campaign.wrap_up_limit_seconds,
        created_by=campaign.created_by,
        created_at=campaign.created_at,
        updated_at=campaign.updated_at,
        stats=None
        if stats is None
        else CampaignStatsOut(
            leads=stats.leads,
            calls=stats.calls,
            outcomes=stats.outcomes,
            attempts=stats.attempts,
            answered=stats.answered,
            abandoned=stats.abandoned,
            abandon_rate=stats.abandon_rate,
        ),
    )


async def campaign_agents(session: AsyncSession, campaign_ids: Sequence[int]) -> dict[int, list[str]]:
    """The work IDs assigned to each campaign, in work-ID order."""
    out: dict[int, list[str]] = {i: [] for i in campaign_ids}
    if not campaign_ids:
        return out
    rows = await session.execute(
        select(CampaignAgent.campaign_id, CampaignAgent.work_id)
        .where(CampaignAgent.campaign_id.in_(campaign_ids))
        .order_by(CampaignAgent.campaign_id, CampaignAgent.work_id)
    )
    for campaign_id, work_id in rows:
        out[campaign_id].append(work_id)
    return out


async def campaign_read(caller: Caller, campaign: Campaign, *, stats: bool) -> CampaignOut:
    agents = await campaign_agents(caller.session, [campaign.id])
    counted = (await services.campaign_stats(caller.session, [campaign.id]))[campaign.id] if stats else None
    return campaign_out(campaign, counted, agents[campaign.id])


def company_number(value: str | None, field: str, region: str) -> str | None:
    """A caller ID or call-back number, checked with phonenumbers in the site's region and kept as given
    (trimmed): a valid number (``0510-8123 4567``, ``+86 138 0013 8000``) or a service short code (``10086``).
    The trunk and the customer get it as the team lead wrote it."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        number = phonenumbers.parse(normalise_phone(text, region))
    except (ValueError, phonenumbers.NumberParseException):
        number = None
    if number is None or not (
        phonenumbers.is_valid_number(number) or phonenumbers.is_valid_short_number_for_region(number, region)
    ):
        raise ApiError(
            f"{field} must be a phone number of region {region} (e.g. 0510-8123 4567) or a service code (10086)",
            error_id="api.phone_invalid",
            details={"field": field},
        )
    return text


def report_out(report: ImportReport) -> ImportReportOut:
    return ImportReportOut.model_validate(report_json(report))


@router.get("/campaigns", response_model=list[CampaignOut])
async def list_campaigns(caller: Annotated[Caller, Depends(require_permission("campaign.view"))]) -> list[CampaignOut]:
    """The campaigns of the caller's vendor (admins: all), with live stats."""
    found = await services.list_campaigns(caller)
    ids = [c.id for c in found]
    stats = await services.campaign_stats(caller.session, ids)
    agents = await campaign_agents(caller.session, ids)
    return [campaign_out(c, stats[c.id], agents[c.id]) for c in found]


@router.post("/campaigns", response_model=CampaignOut, status_code=201)
async def post_campaign(
    body: CampaignIn, caller: Annotated[Caller, Depends(require_permission("campaign.manage"))]
) -> CampaignOut:
    """A draft campaign with its script version pinned (``flow``: ``id@version``)."""
    user = caller.user
    vendor_id = body.vendor_id if body.vendor_id is not None else user.vendor_id
    if vendor_id is None:
        raise ApiError("the client's admins name the campaign's vendor: vendor_id", error_id="api.vendor_required")
    require(user, "campaign.manage", vendor_id=vendor_id)
    state = caller.state
    region = state.settings.default_region
    caller_id = company_number(body.caller_id, "caller_id", region)
    callback_number = company_number(body.callback_number, "callback_number", region)
    campaign = await create_campaign(
        caller.session,
        registry=state.flows,
        audit=state.audit,
        name=body.name,
        vendor_id=vendor_id,
        flow=body.flow,
        created_by=user.work_id,
        agents=body.agents,
        dial_mode=body.dial_mode,
        max_abandon_rate=body.max_abandon_rate,
        calling_windows=body.calling_windows if body.calling_windows is not None else DEFAULT_CALLING_WINDOWS,
        timezone=body.timezone or state.settings.timezone,
        retry_rules=body.retry_rules,
        caller_id=caller_id,
        consent_required=body.consent_required,
        training=body.training,
        safe_harbor_message=body.safe_harbor_message,
        callback_number=callback_number,
        wrap_up_limit_seconds=body.wrap_up_limit_seconds,
        now=caller.now(),
    )
    out = await campaign_read(caller, campaign, stats=False)
    await caller.session.commit()
    return out


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
async def get_campaign(
    campaign_id: Id, caller: Annotated[Caller, Depends(require_permission("campaign.view"))]
) -> CampaignOut:
    """One campaign with live stats from its leads and call attempts."""
    campaign = await services.campaign_for(caller, campaign_id, "campaign.view")
    return await campaign_read(caller, campaign, stats=True)


@router.get("/campaigns/{campaign_id}/live", response_model=CampaignLiveOut)
async def get_live(
    campaign_id: Id, caller: Annotated[Caller, Depends(require_permission("campaign.view"))]
) -> CampaignLiveOut:
    """The wallboard's view of the campaign's dialer: agents with their state and time in it, calls in progress,
    answers, abandon rate (whole run and trailing hour) against its limit, outcomes."""
    campaign = await services.campaign_for(caller, campaign_id, "campaign.view")
    snapshot = dialers_of(caller.state).snapshot(campaign.id)
    if snapshot is None:
        return CampaignLiveOut(campaign_id=campaign.id, running=False, max_abandon_rate=campaign.max_abandon_rate)
    return CampaignLiveOut.model_validate({"campaign_id": campaign.id, **snapshot})


@router.get("/campaigns/{campaign_id}/funnel", response_model=FunnelOut)
async def get_funnel(
    campaign_id: Id,
    caller: Annotated[Caller, Depends(require_permission("campaign.view"))],
    since: Annotated[AwareDatetime | None, Query(description="calls started at or after (default: all)")] = None,
    until: Annotated[AwareDatetime | None, Query(description="calls started before (default: now)")] = None,
) -> FunnelOut:
    """The per-script funnel: how many conversations reached each screen, which answers customers chose,
    objections raised and outcomes."""
    campaign = await services.campaign_for(caller, campaign_id, "campaign.view")
    counted, rows = await campaign_funnel(
        caller.session,
        caller.state.flows,
        caller.viewer,
        campaign.id,
        since=since or campaign.created_at,
        until=until or caller.now() + timedelta(seconds=1),
    )
    return FunnelOut(
        campaign_id=campaign.id,
        flow=f"{campaign.flow_id}@{campaign.flow_version}",
        calls=counted.calls,
        states=[FunnelStateOut.model_validate(row) for row in rows],
        objections=dict(counted.objections),
        outcomes=dict(counted.outcomes),
    )


@router.post(
    "/campaigns/{campaign_id}/leads",
    response_model=ImportReportOut | ImportJobOut,
    responses={202: {"model": ImportJobOut, "description": "background=true: the import runs; poll its progress"}},
)
async def post_leads(
    campaign_id: Id,
    caller: Annotated[Caller, Depends(require_permission("lead.import"))],
    file: Annotated[UploadFile, File(description="CSV with a header; `phone` required")],
    response: Response,
    background: Annotated[
        bool, Query(description="answer 202 at once and import in the background (progress: GET …/imports/{id})")
    ] = False,
    list_name: Annotated[
        str | None,
        Query(
            alias="list",
            min_length=1,
            max_length=NAME_MAX,
            description="add the rows to the campaign's lead list of this name (made if missing); default: a new "
            "list named after the file",
        ),
    ] = None,
) -> ImportReportOut | ImportJobOut:
    """Upload leads as CSV: good rows land, bad ones come back in the report (line, column, masked value). The rows
    form a lead list of their own (or join ``list``), which ``PATCH …/lists/{list_id}`` can pause."""
    campaign = await services.campaign_for(caller, campaign_id, "lead.import")
    if list_name is not None:
        clean_name(list_name)  # a name it cannot take: 422 before the upload is read
    data = await file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiError(
            f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB; use `waihu leads import`",
            error_id="api.upload_too_large",
        )
    await caller.session.commit()  # the job and the importer write on their own connections: end this transaction
    job = await imports_of(caller.state).start(
        campaign.id, data, caller.work_id, file_name=file.filename, list_name=list_name
    )
    if background:
        response.status_code = 202
        return ImportJobOut(import_id=job.id, campaign_id=job.campaign_id, state="running", total=job.total, done=0)
    assert job.task is not None
    await asyncio.shield(job.task)  # a client that goes away does not stop the import (its job records it)
    if job.report is None or job.state != "done":
        raise ApiError(str((job.error or {}).get("message", "the import failed")), error_id="api.import_failed")
    return report_out(job.report)


def job_out(job: LeadImportJob) -> ImportJobOut:
    return ImportJobOut(
        import_id=job.id,
        campaign_id=job.campaign_id,
        state=cast(ImportJobState, job.state),  # the table's check constraint keeps it to these states
        done=job.done,
        total=job.total,
        report=ImportReportOut.model_validate(job.report) if job.report is not None else None,
        error=error_of(job),
    )


@router.get("/campaigns/{campaign_id}/imports/{import_id}", response_model=ImportJobOut)
async def get_import(
    campaign_id: Id,
    import_id: Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")],
    caller: Annotated[Caller, Depends(require_permission("lead.import"))],
) -> ImportJobOut:
    """A lead upload, from any API process: rows done out of the file's rows, then its report or error (a job
    whose server stopped first is ``interrupted``; the leads it wrote stay)."""
    campaign = await services.campaign_for(caller, campaign_id, "lead.import")
    job = await read_job(caller.session, import_id, now=caller.now())
    if job is None or job.campaign_id != campaign.id:
        raise ObjectNotFound(f"no lead import {import_id} for campaign {campaign.id}")
    out = job_out(job)
    await caller.session.commit()  # a job found abandoned was marked interrupted
    return out


Launcher = Annotated[Caller, Depends(require_permission("campaign.launch"))]


def lead_list_out(row: ListCounts) -> LeadListOut:
    return LeadListOut(
        id=row.list.id,
        campaign_id=row.list.campaign_id,
        name=mask_text(row.list.name),
        active=row.list.active,
        created_by=row.list.created_by,
        created_at=row.list.created_at,
        total=row.total,
        leads=row.by_status,
    )


@router.get("/campaigns/{campaign_id}/lists", response_model=list[LeadListOut])
async def get_lists(
    campaign_id: Id, caller: Annotated[Caller, Depends(require_permission("campaign.view"))]
) -> list[LeadListOut]:
    """The campaign's lead lists, oldest first: worked or paused, and their leads by status."""
    campaign = await services.campaign_for(caller, campaign_id, "campaign.view")
    return [lead_list_out(row) for row in await list_counts(caller.session, campaign.id)]


@router.patch("/campaigns/{campaign_id}/lists/{list_id}", response_model=LeadListOut)
async def patch_list(campaign_id: Id, list_id: Id, body: LeadListIn, caller: Launcher) -> LeadListOut:
    """Pause a lead list (none of its leads is dialed, callbacks included; calls already placed finish) or resume
    it. Audited."""
    campaign = await services.campaign_for(caller, campaign_id, "campaign.launch")
    await set_list_active(
        caller.session, caller.state.audit, campaign.id, list_id, active=body.active, actor=caller.work_id
    )
    rows = await list_counts(caller.session, campaign.id)
    await caller.session.commit()
    return next(lead_list_out(row) for row in rows if row.list.id == list_id)


async def _move(caller: Caller, campaign_id: Id, target: str, *, expect: str | None = None) -> CampaignOut:
    campaign = await services.campaign_for(caller, campaign_id, "campaign.launch")
    if expect is not None and campaign.state != expect:
        raise CampaignStateError(
            f"campaign {campaign.id} is {campaign.state}; only a {expect} campaign can be resumed",
            details={"campaign_id": campaign.id, "state": campaign.state},
        )
    campaign = await set_state(caller.session, caller.state.audit, campaign.id, target, actor=caller.work_id)
    out = await campaign_read(caller, campaign, stats=False)
    await caller.session.commit()
    return out


async def _run(caller: Caller, campaign_id: Id, *, expect: str) -> CampaignOut:
    """Into running, and its dialer started; if the dialer cannot start (Asterisk unreachable), back to
    ``expect`` and the error answered."""
    out = await _move(caller, campaign_id, "running", expect=expect)
    try:
        await dialers_of(caller.state).start(out.id)
    except Exception:
        await set_state(caller.session, caller.state.audit, out.id, "paused", actor=caller.work_id)
        await caller.session.commit()
        raise
    return out


@router.post("/campaigns/{campaign_id}/start", response_model=CampaignOut)
async def start(campaign_id: Id, caller: Launcher) -> CampaignOut:
    """draft → running: the campaign's dialer starts (the simulator, or Asterisk when WAIHU_TELEPHONY=asterisk;
    training campaigns always on the simulator); agents assigned to it get calls once their console is ready."""
    return await _run(caller, campaign_id, expect="draft")


@router.post("/campaigns/{campaign_id}/pause", response_model=CampaignOut)
async def pause(campaign_id: Id, caller: Launcher) -> CampaignOut:
    """running → paused."""
    return await _move(caller, campaign_id, "paused")


@router.post("/campaigns/{campaign_id}/resume", response_model=CampaignOut)
async def resume(campaign_id: Id, caller: Launcher) -> CampaignOut:
    """paused → running (the dialer places calls again)."""
    return await _run(caller, campaign_id, expect="paused")


@router.post("/campaigns/{campaign_id}/stop", response_model=CampaignOut)
async def stop(campaign_id: Id, caller: Launcher) -> CampaignOut:
    """running or paused → stopped (final)."""
    return await _move(caller, campaign_id, "stopped")


def webhook_out(endpoint: WebhookEndpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        campaign_id=endpoint.campaign_id,
        url=endpoint.url,
        include_pii=endpoint.include_pii,
        active=endpoint.active,
        created_by=endpoint.created_by,
        created_at=endpoint.created_at,
    )


@router.post("/campaigns/{campaign_id}/webhooks", response_model=WebhookCreated, status_code=201)
async def post_webhook(
    campaign_id: Id, body: WebhookIn, caller: Annotated[Caller, Depends(require_permission("campaign.manage"))]
) -> WebhookCreated:
    """POST each finished call of the campaign to ``url``, signed with the secret returned here (once)."""
    campaign = await services.campaign_for(caller, campaign_id, "campaign.manage")
    created = await webhooks.create_endpoint(caller, campaign, body.url, include_pii=body.include_pii)
    return WebhookCreated(**webhook_out(created.endpoint).model_dump(), secret=created.secret)


@router.get("/campaigns/{campaign_id}/webhooks", response_model=list[WebhookOut])
async def get_webhooks(
    campaign_id: Id, caller: Annotated[Caller, Depends(require_permission("campaign.view"))]
) -> list[WebhookOut]:
    campaign = await services.campaign_for(caller, campaign_id, "campaign.view")
    rows = await caller.session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.campaign_id == campaign.id).order_by(WebhookEndpoint.id)
    )
    return [webhook_out(e) for e in rows]


@router.get("/campaigns/{campaign_id}/webhooks/{webhook_id}/deliveries", response_model=list[DeliveryOut])
async def get_deliveries(
    campaign_id: Id,
    webhook_id: Id,
    caller: Annotated[Caller, Depends(require_permission("campaign.view"))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    """The delivery log of an endpoint, newest first: status, attempts, the last answer."""
    campaign = await services.campaign_for(caller, campaign_id, "campaign.view")
    endpoint = await caller.session.get(WebhookEndpoint, webhook_id)
    if endpoint is None or endpoint.campaign_id != campaign.id:
        raise ObjectNotFound(f"no webhook {webhook_id} on campaign {campaign.id}", details={"webhook_id": webhook_id})
    rows = await caller.session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    )
    return [
        DeliveryOut(
            id=d.id,
            call_id=d.call_id,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
        )
        for d in rows
    ]


@dnc_router.post("/dnc", response_model=DncOut)
async def post_dnc(body: DncIn, caller: Annotated[Caller, Depends(require_permission("dnc.manage"))]) -> DncOut:
    """Put a number on the do-not-call list (kept as a keyed hash only)."""
    state = caller.state
    try:
        added = await add_phone(
            caller.session,
            state.vault,
            body.phone,
            added_by=caller.work_id,
            reason=body.reason,
            region=state.settings.default_region,
        )
    except InvalidPhone:
        raise ApiError("not a valid phone number", error_id="api.phone_invalid") from None
    masked = mask_phone(body.phone)
    await state.audit.append(
        caller.session, actor=caller.work_id, action="dnc.add", target=f"phone:{masked}", details={"added": added}
    )
    await caller.session.commit()
    return DncOut(phone_masked=masked, added=added)
