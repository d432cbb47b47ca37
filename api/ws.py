"""The agent console's websocket, and :class:`ConsoleHub`, the agent desk the dialer drives through it.

``/ws/agent`` authenticates like every route (the session cookie, or ``Authorization: Bearer``, or a
first message ``{"type": "auth", "token": …}``) and needs ``call.take``. Messages, all JSON objects:

server → console
    ``call.pop`` (call id, masked lead, the first step), ``call.step`` (the next step), ``call.ended``
    (outcome), ``wrap_up``, ``state`` (the agent's state), ``error`` (the usual error body).
console → server
    ``choose`` (``option``, ``values``), ``objection`` (``id``), ``ready`` (wrap-up done),
    ``state`` (``state``: ready / paused, ``reason``).

The hub keeps each agent's current screen, so after a dropped socket the console gets the call and the
step again on reconnect; what the agent sent is queued per work ID and never lost with a socket. The
dialer's :class:`~dialer.runner.CampaignRunner` takes the hub as its ``desk`` (``work``, ``wrap_up``,
``preview``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, Final

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from agents.auth import authenticate
from agents.models import User
from agents.permissions import require
from agents.sessions import set_state
from api.deps import SESSION_COOKIE, AppState
from dialer.floor import AgentSlot
from dialer.runner import LiveCall, PreviewLead
from flows import FlowError, FlowRun, StepView
from waihu.errors import WaihuError
from waihu.pii import mask

__all__ = ["ConsoleHub", "console_of", "router", "step_json"]

log = logging.getLogger(__name__)
router = APIRouter(tags=["agent console"])

#: how often a desk waiting for the agent looks whether the customer hung up
_POLL: Final = 0.05
_REPLACED: Final = 4001
_REFUSED: Final = 4003


def step_json(step: StepView) -> dict[str, Any]:
    """A screen for the console (its text already rendered with PII masked by the run)."""
    return {
        "state": step.state,
        "title": step.title,
        "text": step.text,
        "hint": step.hint,
        "notes": list(step.notes),
        "options": [
            {"index": o.index, "label": o.label, "kind": o.kind, "ends_call": o.ends_call} for o in step.options
        ],
        "capture": [{"name": f.name, "label": f.label, "required": f.required} for f in step.capture],
        "objection": step.objection,
        "objection_label": step.objection_label,
    }


def _error(exc: WaihuError | FlowError) -> dict[str, Any]:
    body = exc.to_dict() if isinstance(exc, WaihuError) else {"error_id": exc.error_id, "message": exc.message}
    return {"type": "error", **body}


class ConsoleHub:
    """Sockets, current screens and inboxes of the agents' consoles; an agent desk for the dialer."""

    def __init__(self) -> None:
        self._sockets: dict[str, WebSocket] = {}
        self._inbox: defaultdict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        self._screen: dict[str, dict[str, Any]] = {}

    # -- the sockets ------------------------------------------------------------------------------

    async def attach(self, work_id: str, socket: WebSocket) -> None:
        """The agent's console (re)connected: the latest socket wins; the current call comes again."""
        old = self._sockets.get(work_id)
        self._sockets[work_id] = socket
        if old is not None and old is not socket:
            with contextlib.suppress(Exception):
                await old.close(code=_REPLACED)
        screen = self._screen.get(work_id)
        if screen is not None:
            await self._push(work_id, {**screen, "type": "call.pop", "resumed": True})

    def detach(self, work_id: str, socket: WebSocket) -> None:
        if self._sockets.get(work_id) is socket:
            del self._sockets[work_id]

    def connected(self, work_id: str) -> bool:
        return work_id in self._sockets

    async def received(self, work_id: str, message: dict[str, Any]) -> None:
        await self._inbox[work_id].put(message)

    async def _push(self, work_id: str, message: Mapping[str, Any]) -> None:
        socket = self._sockets.get(work_id)
        if socket is None:
            return  # the console is away; it gets the screen again on reconnect
        try:
            await socket.send_json(dict(message))
        except Exception:  # a socket closing under us: the reconnect repairs it
            self.detach(work_id, socket)

    async def _next(self, work_id: str, run: FlowRun | None = None) -> dict[str, Any] | None:
        """The agent's next message; None when the run ended meanwhile (the customer hung up)."""
        inbox = self._inbox[work_id]
        while True:
            if run is not None and run.ended:
                return None
            try:
                return await asyncio.wait_for(inbox.get(), timeout=_POLL)
            except TimeoutError:
                continue

    # -- the agent desk -----------------------------------------------------------------------------

    @staticmethod
    def _lead(run: FlowRun, variables: Mapping[str, str]) -> dict[str, str]:
        flow = run.flow
        shown: dict[str, str] = {}
        for name, value in variables.items():
            var = flow.variables.get(name)
            if var is None:
                continue  # only the script's own variables reach the screen
            shown[name] = mask(var.pii.value, value) if var.pii else value
        return shown

    async def work(self, call: LiveCall, run: FlowRun) -> None:
        """Show the call and its script; apply each choice the console sends until the run ends."""
        if call.slot is None:
            return
        work_id = call.slot.work_id
        screen = {"call_id": call.call_id, "lead": self._lead(run, call.variables), "step": step_json(run.step)}
        self._screen[work_id] = screen
        await self._push(work_id, {"type": "call.pop", **screen})
        while not run.ended:
            message = await self._next(work_id, run)
            if message is None:
                break
            try:
                if message.get("type") == "choose":
                    await run.choose(message.get("option", -1), message.get("values") or {})
                elif message.get("type") == "objection":
                    await run.enter_objection(str(message.get("id", "")))
                else:
                    continue
            except (FlowError, WaihuError) as exc:
                await self._push(work_id, _error(exc))
                continue
            if not run.ended:
                screen = {**screen, "step": step_json(run.step)}
                self._screen[work_id] = screen
                await self._push(work_id, {"type": "call.step", "call_id": call.call_id, "step": screen["step"]})
        self._screen[work_id] = {**screen, "ended": True, "outcome": run.outcome}
        await self._push(work_id, {"type": "call.ended", "call_id": call.call_id, "outcome": run.outcome})

    async def wrap_up(self, call: LiveCall) -> None:
        """Wait for the console's ``ready`` after the call."""
        if call.slot is None:
            return
        work_id = call.slot.work_id
        await self._push(work_id, {"type": "wrap_up", "call_id": call.call_id})
        while True:
            message = await self._next(work_id)
            if message is not None and message.get("type") == "ready":
                break
        self._screen.pop(work_id, None)

    async def preview(self, agent: AgentSlot, lead: PreviewLead) -> bool:
        """Preview mode: the console decides whether to dial the lead shown (masked)."""
        shown = {"lead_id": lead.lead_id, "phone_masked": lead.phone_masked, "variables": dict(lead.variables)}
        await self._push(agent.work_id, {"type": "preview", "lead": shown})
        while True:
            message = await self._next(agent.work_id)
            if message is not None and message.get("type") == "preview":
                return bool(message.get("dial"))


def console_of(state: AppState) -> ConsoleHub:
    hub = state.extra.get("console")
    if not isinstance(hub, ConsoleHub):
        hub = ConsoleHub()
        state.extra["console"] = hub
    return hub


async def _who(socket: WebSocket, state: AppState) -> User | None:
    header = socket.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    token = value.strip() if scheme.lower() == "bearer" else socket.cookies.get(SESSION_COOKIE)
    if not token:
        first = await socket.receive_json()
        token = first.get("token") if isinstance(first, dict) and first.get("type") == "auth" else None
    if not isinstance(token, str) or not token:
        return None
    async with state.sessions() as session:
        try:
            auth_session = await authenticate(state.agents, session, token, now=state.now())
            user = await session.get(User, auth_session.work_id)
            if user is None:
                return None
            require(user, "call.take")
        except WaihuError:
            return None
        await session.commit()
        return user


@router.websocket("/ws/agent")
async def agent_console(socket: WebSocket) -> None:
    state = socket.app.state.waihu
    assert isinstance(state, AppState)
    await socket.accept()
    user = await _who(socket, state)
    if user is None:
        await socket.send_json(
            {
                "type": "error",
                "error_id": "api.not_authenticated",
                "message": "log in with a work ID that takes calls (call.take)",
            }
        )
        await socket.close(code=_REFUSED)
        return
    hub = console_of(state)
    work_id = user.work_id
    await hub.attach(work_id, socket)
    try:
        while True:
            message = await socket.receive_json()
            if not isinstance(message, dict):
                continue
            if message.get("type") == "state":
                await _change_state(state, socket, work_id, message)
            else:
                await hub.received(work_id, message)
    except WebSocketDisconnect:
        pass
    finally:
        hub.detach(work_id, socket)


async def _change_state(state: AppState, socket: WebSocket, work_id: str, message: dict[str, Any]) -> None:
    reason = message.get("reason")
    async with state.sessions() as session:
        try:
            now = await set_state(
                state.agents,
                session,
                work_id,
                str(message.get("state", "")),
                now=state.now(),
                reason=reason if isinstance(reason, str) else None,
            )
        except (WaihuError, ValueError) as exc:
            error = _error(exc) if isinstance(exc, WaihuError) else {"type": "error", "error_id": "api.state_unknown"}
            await socket.send_json(error)
            return
        await session.commit()
    await socket.send_json({"type": "state", "state": now.state.value, "reason": now.reason})
