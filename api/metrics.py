"""Prometheus metrics of one app: request latencies as they happen, call and agent gauges read at scrape time.

Each app has its own registry (no process-global state), so tests can build many apps.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agents.models import AgentStateChange, AuthSession
from dialer.models import CallAttempt, Campaign

__all__ = ["CONTENT_TYPE", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.request_seconds = Histogram(
            "waihu_http_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.calls = Gauge(
            "waihu_calls_total_by_result",
            "Call attempts in the last 24 hours by how the dial ended",
            ["result"],
            registry=self.registry,
        )
        self.abandon_rate = Gauge(
            "waihu_campaign_abandon_rate",
            "Abandoned over answered calls in the last 24 hours, per running or paused campaign",
            ["campaign"],
            registry=self.registry,
        )
        self.agents = Gauge(
            "waihu_agents_by_state", "Logged-in agents by their current state", ["state"], registry=self.registry
        )

        self.ami_up = Gauge(
            "waihu_ami_connected",
            "1 while a live campaign's AMI connection is up, 0 while it is down (connecting, reconnecting, closed)",
            ["campaign", "state"],
            registry=self.registry,
        )
        self.dialer_agents = Gauge(
            "waihu_dialer_agents",
            "Agents on a live campaign's floor by dialer state (ready, reserved, on_call, wrap_up, paused)",
            ["campaign", "state"],
            registry=self.registry,
        )
        self.dialer_calls = Gauge(
            "waihu_dialer_calls_in_progress",
            "A live campaign's calls in progress by call state",
            ["campaign", "state"],
            registry=self.registry,
        )
        self.dialer_hour_abandon = Gauge(
            "waihu_dialer_hour_abandon_rate",
            "A live campaign's abandoned over answered calls in the trailing hour (this process's dialer)",
            ["campaign"],
            registry=self.registry,
        )

    def live(self, snapshots: Mapping[int, Mapping[str, Any]]) -> None:
        """The live campaigns' dialers (api.dialing.DialerPool.snapshot of each)."""
        for gauge in (self.ami_up, self.dialer_agents, self.dialer_calls, self.dialer_hour_abandon):
            gauge.clear()
        for campaign_id, snap in snapshots.items():
            label = str(campaign_id)
            ami = snap.get("ami_state")
            if ami is not None:
                self.ami_up.labels(label, str(ami)).set(1.0 if ami == "connected" else 0.0)
            agents: dict[str, int] = {}
            for agent in snap.get("agents", []):
                agents[agent["state"]] = agents.get(agent["state"], 0) + 1
            for state, count in agents.items():
                self.dialer_agents.labels(label, state).set(count)
            for state, count in dict(snap.get("calls_in_progress", {})).items():
                self.dialer_calls.labels(label, state).set(count)
            self.dialer_hour_abandon.labels(label).set(float(snap.get("hour_abandon_rate", 0.0)))

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.request_seconds.labels(route, method, str(status)).observe(seconds)

    async def refresh(self, session: AsyncSession, now: datetime) -> None:
        """Read the gauges' values from the database (at scrape time)."""
        since = now - timedelta(hours=24)
        self.calls.clear()
        rows = await session.execute(
            select(CallAttempt.result, func.count()).where(CallAttempt.started_at >= since).group_by(CallAttempt.result)
        )
        for result, count in rows:
            self.calls.labels(result).set(count)
        self.abandon_rate.clear()
        per_campaign = await session.execute(
            select(
                Campaign.id,
                func.count(CallAttempt.id).filter(CallAttempt.abandoned.is_(True)),
                func.count(CallAttempt.id).filter(CallAttempt.answered_at.is_not(None)),
            )
            .join(CallAttempt, CallAttempt.campaign_id == Campaign.id, isouter=True)
            .where(Campaign.state.in_(("running", "paused")))
            .group_by(Campaign.id)
        )
        for campaign_id, abandoned, answered in per_campaign:
            self.abandon_rate.labels(str(campaign_id)).set(abandoned / answered if answered else 0.0)
        self.agents.clear()
        latest = (
            select(AgentStateChange.work_id, func.max(AgentStateChange.id).label("last"))
            .join(AuthSession, AuthSession.id == AgentStateChange.session_id)
            .where(AuthSession.ended_at.is_(None), AuthSession.expires_at > now)
            .group_by(AgentStateChange.work_id)
            .subquery()
        )
        by_state = await session.execute(
            select(AgentStateChange.state, func.count())
            .join(latest, latest.c.last == AgentStateChange.id)
            .group_by(AgentStateChange.state)
        )
        for state, count in by_state:
            self.agents.labels(state).set(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)
