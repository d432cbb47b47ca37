"""Webhooks: each finished call of a campaign POSTed to its endpoints, HMAC-signed, retried with backoff, logged.

An outbox, not a hook in the dialer: :func:`enqueue_finished` finds finished calls of campaigns with
endpoints that have no delivery row yet and adds one (unique per endpoint and call, so two API
processes never send a call twice); :func:`deliver_due` sends the due ones. :class:`WebhookWorker`
runs both every few seconds in the app's lifespan (``waihu serve``); tests call them directly.

The body is JSON: the call's id, campaign, agent, times, result, outcome, and the captured fields and
phone number masked, unless the endpoint was created with ``include_pii`` by a work ID holding
``pii.unmask`` (audited). Headers: ``X-Waihu-Signature: sha256=<hex HMAC of timestamp + "." + body>``,
``X-Waihu-Timestamp``, ``X-Waihu-Delivery``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urlsplit

import httpx2 as httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.permissions import require
from api.deps import AppState, Caller
from api.errors import ApiError
from api.models import WebhookDelivery, WebhookEndpoint
from api.periodic import Periodic
from dialer.models import CallAttempt, Campaign, Lead
from waihu.pii import mask

__all__ = [
    "MAX_ATTEMPTS",
    "WebhookWorker",
    "backoff",
    "create_endpoint",
    "deliver_due",
    "enqueue_finished",
    "payload",
    "sign",
]

log = logging.getLogger(__name__)

MAX_ATTEMPTS: Final = 8
_BASE_DELAY: Final = timedelta(seconds=10)
_MAX_DELAY: Final = timedelta(hours=1)
_TIMEOUT: Final = 10.0
_BATCH: Final = 100


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failure: 10 s, 20 s, 40 s … at most an hour."""
    delay: timedelta = _BASE_DELAY * 2 ** min(max(attempts - 1, 0), 20)
    return min(delay, _MAX_DELAY)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class NewEndpoint:
    endpoint: WebhookEndpoint
    secret: str


async def create_endpoint(caller: Caller, campaign: Campaign, url: str, *, include_pii: bool) -> NewEndpoint:
    """Register an endpoint for a campaign; the signing secret is returned once."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError("a webhook URL is http:// or https:// with a host", error_id="api.webhook_url_invalid")
    if include_pii:
        require(caller.user, "pii.unmask")
    state = caller.state
    secret = secrets.token_urlsafe(32)
    endpoint = WebhookEndpoint(
        campaign_id=campaign.id,
        url=url,
        secret_enc=state.vault.encrypt(secret),
        include_pii=include_pii,
        active=True,
        created_by=caller.work_id,
        created_at=caller.now(),
    )
    caller.session.add(endpoint)
    await caller.session.flush()
    await state.audit.append(
        caller.session,
        actor=caller.work_id,
        action="webhook.create",
        target=f"campaign:{campaign.id}",
        details={"endpoint": endpoint.id, "host": parts.hostname, "include_pii": include_pii},
    )
    await caller.session.commit()
    return NewEndpoint(endpoint, secret)


async def enqueue_finished(session: AsyncSession, now: datetime) -> int:
    """Add a pending delivery for every finished call (since its endpoint exists) not yet queued; commits."""
    rows = (
        await session.execute(
            select(WebhookEndpoint.id, CallAttempt.call_id)
            .join(CallAttempt, CallAttempt.campaign_id == WebhookEndpoint.campaign_id)
            .outerjoin(
                WebhookDelivery,
                (WebhookDelivery.endpoint_id == WebhookEndpoint.id) & (WebhookDelivery.call_id == CallAttempt.call_id),
            )
            .where(
                WebhookEndpoint.active.is_(True),
                CallAttempt.ended_at.is_not(None),
                CallAttempt.call_id.is_not(None),
                CallAttempt.ended_at >= WebhookEndpoint.created_at,
                WebhookDelivery.id.is_(None),
            )
            .limit(_BATCH * 10)
        )
    ).all()
    for endpoint_id, call_id in rows:
        session.add(
            WebhookDelivery(
                endpoint_id=endpoint_id,
                call_id=call_id,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
    await session.commit()
    return len(rows)


async def payload(state: AppState, session: AsyncSession, attempt: CallAttempt, *, include_pii: bool) -> dict[str, Any]:
    """The JSON of a finished call; PII masked unless the endpoint may receive it."""
    captured: dict[str, Any] = json.loads(state.vault.decrypt(attempt.captured_enc)) if attempt.captured_enc else {}
    lead = await session.get(Lead, attempt.lead_id) if attempt.lead_id is not None else None
    phone: str | None = None
    if lead is not None:
        phone = state.vault.decrypt(lead.phone_enc) if include_pii else lead.phone_masked
    if not include_pii:
        campaign = await session.get(Campaign, attempt.campaign_id)
        flow = state.flows.get(campaign.flow_id, campaign.flow_version) if campaign is not None else None
        shown: dict[str, Any] = {}
        for name, value in captured.items():
            field = flow.capture_fields.get(name) if flow is not None else None
            shown[name] = mask(field.pii.value, str(value)) if field is not None and field.pii else value
        captured = shown
    return {
        "event": "call.finished",
        "call_id": attempt.call_id,
        "campaign_id": attempt.campaign_id,
        "agent": attempt.work_id,
        "phone": phone,
        "started_at": attempt.started_at.isoformat(),
        "answered_at": attempt.answered_at.isoformat() if attempt.answered_at else None,
        "ended_at": attempt.ended_at.isoformat() if attempt.ended_at else None,
        "result": attempt.result,
        "outcome": attempt.outcome,
        "outcome_category": attempt.outcome_category,
        "abandoned": attempt.abandoned,
        "captured": captured,
    }


async def _send(
    client: httpx.AsyncClient, endpoint: WebhookEndpoint, secret: str, delivery: WebhookDelivery, body: bytes, at: str
) -> tuple[int | None, str | None]:
    headers = {
        "Content-Type": "application/json",
        "X-Waihu-Signature": "sha256=" + sign(secret, at, body),
        "X-Waihu-Timestamp": at,
        "X-Waihu-Delivery": str(delivery.id),
        "User-Agent": "waihu-webhooks/1",
    }
    try:
        response = await client.post(endpoint.url, content=body, headers=headers, timeout=_TIMEOUT)
    except httpx.HTTPError as exc:
        return None, type(exc).__name__
    return response.status_code, None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"


async def deliver_due(state: AppState, client: httpx.AsyncClient, now: datetime) -> int:
    """Send every due pending delivery once; 2xx delivers, anything else retries later (or fails). Returns sent."""
    sent = 0
    async with state.sessions() as session:
        due = (
            await session.execute(
                select(WebhookDelivery, WebhookEndpoint)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(_BATCH)
            )
        ).all()
        for delivery, endpoint in due:
            attempt = await session.scalar(select(CallAttempt).where(CallAttempt.call_id == delivery.call_id))
            if attempt is None:
                delivery.status, delivery.last_error = "failed", "call record missing"
                continue
            body = json.dumps(
                await payload(state, session, attempt, include_pii=endpoint.include_pii),
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode("utf-8")
            code, error = await _send(
                client, endpoint, state.vault.decrypt(endpoint.secret_enc), delivery, body, str(int(now.timestamp()))
            )
            sent += 1
            delivery.attempts += 1
            delivery.last_status_code, delivery.last_error = code, error
            if error is None:
                delivery.status, delivery.delivered_at, delivery.next_attempt_at = "delivered", now, None
            elif delivery.attempts >= MAX_ATTEMPTS:
                delivery.status, delivery.next_attempt_at = "failed", None
                log.warning("webhook delivery %s failed for good after %s attempts", delivery.id, delivery.attempts)
            else:
                delivery.next_attempt_at = now + backoff(delivery.attempts)
        await session.commit()
    return sent


class WebhookWorker(Periodic):
    """Enqueue and deliver every ``interval`` seconds; one task, started and stopped by the lifespan."""

    def __init__(self, state: AppState, *, interval: float, now: Callable[[], datetime]) -> None:
        super().__init__("webhooks", interval)
        self.state = state
        self.now = now
        self._client: httpx.AsyncClient | None = None

    async def round(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(follow_redirects=False)
        async with self.state.sessions() as session:
            await enqueue_finished(session, self.now())
        await deliver_due(self.state, self._client, self.now())

    async def stop(self) -> None:
        await super().stop()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
