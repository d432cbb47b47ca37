"""The FastAPI application: ``create_app(settings)``; resources are built in the lifespan, never at import."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agents.context import AgentsContext
from api import ws
from api.deps import AppState
from api.dialing import DialerPool
from api.errors import install_error_handlers
from api.housekeeping import Housekeeper
from api.imports import imports_of
from api.metrics import Metrics
from api.routes import assets, attendance, audit, auth, calls, campaigns, faults, flows, pages, qa, system, users
from api.webhooks import WebhookWorker
from api.ws import console_of
from flows import PACKAGE_SCRIPTS, FlowRegistry
from recordings.sheets import SheetRegistry
from waihu.audit import AuditLog
from waihu.db import create_engine, session_factory, utcnow
from waihu.migrate import upgrade
from waihu.settings import Settings
from waihu.vault import Vault

__all__ = ["ROUTERS", "build_state", "create_app"]

ROUTERS = (
    system.router,
    auth.router,
    campaigns.router,
    campaigns.dnc_router,
    flows.router,
    users.router,
    calls.router,
    qa.router,
    attendance.router,
    audit.router,
    faults.router,
    assets.router,
    ws.router,
    pages.router,
)

DESCRIPTION = """Waihu (外呼): the outbound call-center platform's HTTP API.

Log in with `POST /auth/login`: API clients send the returned token as `Authorization: Bearer <token>`;
pages get an HttpOnly session cookie and send the `waihu_csrf` cookie's value as `X-CSRF-Token` on every
change. Every route checks one dotted permission (see docs/permissions.md); another vendor's objects answer
404. Every error is `{"error_id", "message", "details"}`.
"""


class _Latency:
    """Records each request's latency under its route template (never the raw path: it may hold ids)."""

    def __init__(self, app: ASGIApp, metrics: Callable[[], Metrics | None]) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            metrics = self.metrics()
            if metrics is not None:
                route = scope.get("route")
                template = getattr(route, "path", None) or "unmatched"
                metrics.observe(template, scope["method"], status, time.perf_counter() - started)


def build_state(
    settings: Settings,
    engine: AsyncEngine,
    *,
    hasher: PasswordHasher | None = None,
    now: Callable[[], datetime] = utcnow,
) -> AppState:
    """The app's resources on an engine (the lifespan's, or a CLI command's)."""
    vault = Vault.from_settings(settings)
    agents = AgentsContext(
        settings=settings, audit=AuditLog(vault.audit_key), vault=vault, hasher=hasher or PasswordHasher()
    )
    return AppState(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        vault=vault,
        audit=agents.audit,
        flows=FlowRegistry([PACKAGE_SCRIPTS, *settings.flows_dirs]),
        sheets=SheetRegistry(),
        agents=agents,
        metrics=Metrics(),
        now=now,
    )


def create_app(
    settings: Settings,
    *,
    hasher: PasswordHasher | None = None,
    now: Callable[[], datetime] = utcnow,
    run_migrations: bool = False,
    webhook_interval: float | None = None,
    engine_kwargs: dict[str, Any] | None = None,
    dialer_options: dict[str, Any] | None = None,
    restore_campaigns: bool = False,
    on_start: Callable[[AppState], Awaitable[None]] | None = None,
    housekeeping_interval: float | None = None,
) -> FastAPI:
    """The API for ``settings``. ``hasher`` and ``now`` are for tests; ``run_migrations``, ``webhook_interval``
    (seconds between webhook rounds; None: no deliveries from this process) and ``restore_campaigns`` (give
    campaigns left running their dialer again) for ``waihu serve``; ``dialer_options`` go to
    :class:`api.dialing.DialerPool` (tests and benchmarks pass a faster tick or other simulated customers);
    ``on_start`` runs once the app's resources are up (``waihu demo`` puts its bot agents on the floor);
    ``housekeeping_interval`` (seconds; None: not in this process) runs :class:`api.housekeeping.Housekeeper`:
    effective-dated work-ID changes, idle logins and the logout at shift end."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings, **(engine_kwargs or {}))
        try:
            if run_migrations:
                await upgrade(engine)
            state = build_state(settings, engine, hasher=hasher, now=now)
            app.state.waihu = state
            worker = WebhookWorker(state, interval=webhook_interval, now=now) if webhook_interval else None
            if worker is not None:
                worker.start()
            pool = DialerPool(state, console_of(state), **(dialer_options or {}))
            state.extra["dialers"] = pool
            if restore_campaigns:
                await pool.restore()
            await imports_of(state).interrupt_abandoned()  # lead uploads whose process stopped mid-import
            keeper = Housekeeper(state, interval=housekeeping_interval, now=now) if housekeeping_interval else None
            if keeper is not None:
                keeper.start()
            if on_start is not None:
                await on_start(state)
            try:
                yield
            finally:
                if keeper is not None:
                    await keeper.stop()
                await pool.close()
                await imports_of(state).close()
                if worker is not None:
                    await worker.stop()
        finally:
            app.state.waihu = None
            await engine.dispose()

    app = FastAPI(title="Waihu API", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.waihu = None
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)

    def metrics() -> Metrics | None:
        state = app.state.waihu
        return state.metrics if isinstance(state, AppState) else None

    app.add_middleware(_Latency, metrics=metrics)
    return app
