"""The agent console's websocket, and :class:`ConsoleHub`, the agent desk the dialer drives through it.

``/ws/agent`` authenticates like every route (the session cookie, or ``Authorization: Bearer``, or a
first message ``{"type": "auth", "token": …}``) and needs ``call.take``. Messages, all JSON objects:

server → console
    ``call.pop`` (call id, masked number and lead, the script's objections, customer types and outcomes, the
    golden-opening checkpoints and the call's clock, the campaign's wrap-up limit, the first step),
    ``call.step`` (the next step, checkpoints, the step an objection returns to), ``call.tags``,
    ``call.ended`` (outcome), ``wrap_up`` (limit), ``wrap_up.done``, ``preview`` (masked lead),
    ``state`` (the agent's state), ``error`` (the usual error body).
console → server
    ``choose`` (``option``, ``values``), ``objection`` (``id``), ``tag`` (``code``: a customer type),
    ``ready`` (wrap-up done) — each with the ``call_id`` it is meant for —, ``preview`` (``lead_id``,
    ``dial``), ``state`` (``state``: ready / paused, ``reason``; without ``state``: a question, answered with
    the agent's state as the session record holds it and the ``call_id`` on the agent's screen, or None).

A console asks for the agent's state each time its socket opens: what it knew may be stale (a page loaded
before another tab changed the state, a tab that takes the console back, a reply lost with a socket), and
its badge shows only what the server confirmed.

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
from typing import Any, Final, Protocol

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from agents.auth import authenticate
from agents.models import User
from agents.permissions import require
from agents.sessions import State, current_state, set_state
from api.deps import SESSION_COOKIE, AppState
from dialer.floor import AgentSlot
from dialer.runner import LiveCall, PreviewLead
from flows import Flow, FlowError, FlowRun, StepView
from flows.schema import CaptureField
from waihu.errors import WaihuError
from waihu.pii import mask

__all__ = ["ConsoleHub", "console_of", "router", "script_json", "step_json"]

log = logging.getLogger(__name__)
router = APIRouter(tags=["agent console"])

#: how often a desk waiting for the agent looks whether the customer hung up
#: the inbox marker of a run's end (never sent by a console: the socket handler only forwards JSON objects
#: from the agent, and this type is refused there)
_RUN_ENDED: Final = "_run.ended"
_REPLACED: Final = 4001
_REFUSED: Final = 4003
#: a connected console renews its login every this share of the idle time
_RENEW_SHARE = 0.25


def _field_json(field: CaptureField) -> dict[str, Any]:
    """A capture field with what the console needs to validate it as it is typed."""
    return {
        "name": field.name,
        "label": field.label,
        "type": field.type.value,
        "required": field.required,
        "choices": list(field.choices) if field.choices else None,
        "min": field.min,
        "max": field.max,
        "max_length": field.max_length,
        "pii": field.pii.value if field.pii else None,
    }


def step_json(step: StepView, flow: Flow | None = None) -> dict[str, Any]:
    """A screen for the console (its text already rendered with PII masked by the run).

    Each option says which capture fields it fills itself (``sets``) and whether it needs the screen's
    required fields (``skip_capture``), so the console checks the fields before sending a choice.
    """
    states = flow.states if flow is not None else {}
    options = []
    for o in step.options:
        compiled = states[step.state].options[o.index] if step.state in states else None
        options.append(
            {
                "index": o.index,
                "label": o.label,
                "kind": o.kind,
                "ends_call": o.ends_call,
                "outcome": compiled.target if compiled is not None and compiled.kind == "outcome" else None,
                "skip_capture": compiled.skip_capture if compiled else False,
                "sets": sorted(compiled.set) if compiled else [],
            }
        )
    return {
        "state": step.state,
        "title": step.title,
        "text": step.text,
        "hint": step.hint,
        "notes": list(step.notes),
        "options": options,
        "capture": [_field_json(f) for f in step.capture],
        "captured": dict(step.captured),
        "timer_after": step.timer_after,
        "timer_cue": step.timer_cue,
        "objection": step.objection,
        "objection_label": step.objection_label,
        "depth": step.depth,
    }


def _checkpoints_json(run: FlowRun) -> list[dict[str, Any]]:
    """The golden-opening checkpoints (15 / 45 / 90 s) with their status now and the states that meet them."""
    states = {cp.id: list(cp.states) for cp in run.flow.checkpoints}
    return [
        {
            "id": c.id,
            "label": c.label,
            "within": c.within,
            "status": c.status,
            "reached_at": None if c.reached_at is None else round(c.reached_at, 1),
            "states": states.get(c.id, []),
        }
        for c in run.checkpoints()
    ]


def _return_to(run: FlowRun) -> dict[str, str] | None:
    """The step an open objection handler returns to."""
    if not run.stack:
        return None
    st = run.flow.states[run.stack[-1]]
    return {"state": st.key, "title": st.title}


def _live(run: FlowRun) -> dict[str, Any]:
    """What changes with every step: the screen, the clock, the checkpoints, the tags."""
    return {
        "step": step_json(run.step, run.flow),
        "elapsed": round(run.now(), 2),
        "checkpoints": _checkpoints_json(run),
        "return_to": _return_to(run),
        "tags": list(run.tags),
    }


def script_json(flow: Flow) -> dict[str, Any]:
    """What the console shows beside the step for the whole call: objections, customer types, outcomes."""
    return {
        "ref": flow.ref,
        "title": flow.title,
        "brand": flow.brand,
        "objections": [{"id": o.id, "label": o.label, "principle": o.principle} for o in flow.objections.values()],
        "customer_types": [{"code": code, "label": t.label, "tip": t.tip} for code, t in flow.customer_types.items()],
        "outcomes": {code: {"label": o.label, "category": o.category.value} for code, o in flow.outcomes.items()},
        "principles": list(flow.principles),
    }


def _error(exc: WaihuError | FlowError) -> dict[str, Any]:
    body = exc.to_dict() if isinstance(exc, WaihuError) else {"error_id": exc.error_id, "message": exc.message}
    return {"type": "error", **body}


class ConsoleHub:
    """Sockets, current screens and inboxes of the agents' consoles; an agent desk for the dialer.

    The call pop carries the campaign's wrap-up limit the dialer put on the call; a call without one
    (None) makes the console count the wrap-up up instead of down.
    """

    def __init__(self) -> None:
        self._sockets: dict[str, WebSocket] = {}
        self._inbox: defaultdict[str, asyncio.Queue[dict[str, Any]]] = defaultdict(asyncio.Queue)
        self._screen: dict[str, dict[str, Any]] = {}
        self._runs: dict[str, FlowRun] = {}
        self._previews: dict[str, dict[str, Any]] = {}
        #: signed out (forced, shift end, idle) while a call was on screen: the console closes after it
        self._leaving: set[str] = set()

    # -- the sockets ------------------------------------------------------------------------------

    async def attach(self, work_id: str, socket: WebSocket) -> None:
        """The agent's console (re)connected: the latest socket wins; the current call or preview comes again."""
        old = self._sockets.get(work_id)
        self._sockets[work_id] = socket
        if old is not None and old is not socket:
            with contextlib.suppress(Exception):
                await old.close(code=_REPLACED)
        screen = self._screen.get(work_id)
        if screen is not None:
            run = self._runs.get(work_id)
            if run is not None and not run.ended:
                screen = {**screen, **_live(run)}
            await self._push(work_id, {**screen, "type": "call.pop", "resumed": True})
        elif work_id in self._previews:
            await self._push(work_id, {"type": "preview", "lead": self._previews[work_id], "resumed": True})

    async def signed_out(self, work_id: str, reason: str) -> None:
        """The agent's login ended without the console asking (forced, shift end, idle): tell the console and
        close it, which sends the page to the login; with a call on screen, once its wrap-up is done."""
        if work_id in self._screen:
            self._leaving.add(work_id)
            return
        await self._close_signed_out(work_id, reason)

    async def _close_signed_out(self, work_id: str, reason: str) -> None:
        self._leaving.discard(work_id)
        socket = self._sockets.get(work_id)
        if socket is None:
            return
        await self._push(work_id, {"type": "signed_out", "reason": reason})
        with contextlib.suppress(Exception):
            await socket.close(code=_REFUSED)
        self.detach(work_id, socket)

    def detach(self, work_id: str, socket: WebSocket) -> None:
        if self._sockets.get(work_id) is socket:
            del self._sockets[work_id]

    def connected(self, work_id: str) -> bool:
        return work_id in self._sockets

    def call_on_screen(self, work_id: str) -> str | None:
        """The id of the call on the agent's screen (during the call and its wrap-up), or None."""
        screen = self._screen.get(work_id)
        call_id = screen.get("call_id") if screen is not None else None
        return call_id if isinstance(call_id, str) else None

    async def received(self, work_id: str, message: dict[str, Any]) -> None:
        if message.get("type") == _RUN_ENDED:
            return  # only the hub writes that marker
        await self._inbox[work_id].put(message)

    async def _push(self, work_id: str, message: Mapping[str, Any]) -> None:
        socket = self._sockets.get(work_id)
        if socket is None:
            return  # the console is away; it gets the screen again on reconnect
        try:
            await socket.send_json(dict(message))
        except Exception:  # a socket closing under us: the reconnect repairs it
            self.detach(work_id, socket)

    def _drain(self, work_id: str) -> None:
        """Forget what the agent sent before a call or preview was on screen: it cannot be meant for it."""
        inbox = self._inbox[work_id]
        while not inbox.empty():
            inbox.get_nowait()

    async def _next(
        self, work_id: str, run: FlowRun | None = None, *, key: tuple[str, object] | None = None
    ) -> dict[str, Any] | None:
        """The agent's next message; None when ``run`` ended meanwhile (the customer hung up).

        Nothing polls: the run's end puts a marker in the inbox (:meth:`FlowRun.on_end`, registered once
        per run by :meth:`work`). With ``key`` (e.g. ``("call_id", "call-…")``), a message naming another
        call or lead is dropped: a late click meant for the previous screen never acts on this one.
        """
        inbox = self._inbox[work_id]
        while True:
            if run is not None and run.ended:
                return None
            message = await inbox.get()
            if message.get("type") == _RUN_ENDED:
                if run is not None and message.get("run") is run:
                    return None
                continue  # the marker of an earlier call
            if key is not None and key[0] in message and message[key[0]] != key[1]:
                log.debug("console %s: dropped a message for another %s", work_id, key[0])
                continue
            return message

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

    @staticmethod
    def _lead_labels(run: FlowRun) -> dict[str, str]:
        return {name: var.label for name, var in run.flow.variables.items()}

    async def work(self, call: LiveCall, run: FlowRun) -> None:
        """Show the call and its script; apply each choice, objection and tag the console sends until the run ends."""
        if call.slot is None:
            return
        work_id = call.slot.work_id
        self._drain(work_id)
        self._previews.pop(work_id, None)
        screen: dict[str, Any] = {
            "call_id": call.call_id,
            "phone_masked": mask("phone", phone) if (phone := call.variables.get("phone")) else None,
            "lead": self._lead(run, call.variables),
            "lead_labels": self._lead_labels(run),
            "script": script_json(run.flow),
            "wrap_up_limit": call.wrap_up_limit,  # the campaign's, set by the dialer on the call
            **_live(run),
        }
        self._screen[work_id] = screen
        self._runs[work_id] = run
        inbox = self._inbox[work_id]
        run.on_end(lambda: inbox.put_nowait({"type": _RUN_ENDED, "run": run}))
        await self._push(work_id, {"type": "call.pop", **screen})
        key = ("call_id", call.call_id)
        while not run.ended:
            message = await self._next(work_id, run, key=key)
            if message is None:
                break
            kind = message.get("type")
            try:
                if kind == "choose":
                    await run.choose(message.get("option", -1), message.get("values") or {})
                elif kind == "objection":
                    await run.enter_objection(str(message.get("id", "")))
                elif kind == "tag":
                    run.tag_customer_type(str(message.get("code", "")))
                    screen = {**screen, "tags": list(run.tags)}
                    self._screen[work_id] = screen
                    await self._push(work_id, {"type": "call.tags", "call_id": call.call_id, "tags": screen["tags"]})
                    continue
                else:
                    continue
            except (FlowError, WaihuError) as exc:
                await self._push(work_id, {**_error(exc), "call_id": call.call_id})
                continue
            if not run.ended:
                screen = {**screen, **_live(run)}
                self._screen[work_id] = screen
                update = {k: screen[k] for k in ("step", "elapsed", "checkpoints", "return_to", "tags")}
                await self._push(work_id, {"type": "call.step", "call_id": call.call_id, **update})
        checkpoints = _checkpoints_json(run)
        self._screen[work_id] = {**screen, "ended": True, "outcome": run.outcome, "checkpoints": checkpoints}
        await self._push(
            work_id,
            {"type": "call.ended", "call_id": call.call_id, "outcome": run.outcome, "checkpoints": checkpoints},
        )

    async def wrap_up(self, call: LiveCall) -> None:
        """Wait for the console's ``ready`` after the call (the console shows the campaign's limit counting down)."""
        if call.slot is None:
            return
        work_id = call.slot.work_id
        screen = self._screen.get(work_id)
        limit = screen.get("wrap_up_limit") if screen is not None else None
        if screen is not None:
            self._screen[work_id] = {**screen, "wrap_up": True}
        await self._push(work_id, {"type": "wrap_up", "call_id": call.call_id, "limit": limit})
        while True:
            message = await self._next(work_id, key=("call_id", call.call_id))
            if message is not None and message.get("type") == "ready":
                break
        self._screen.pop(work_id, None)
        self._runs.pop(work_id, None)
        await self._push(work_id, {"type": "wrap_up.done", "call_id": call.call_id})
        if work_id in self._leaving:
            await self._close_signed_out(work_id, "signed_out")

    async def preview(self, agent: AgentSlot, lead: PreviewLead) -> bool:
        """Preview mode: the console decides whether to dial the lead shown (masked): 拨打 or 跳过."""
        work_id = agent.work_id
        self._drain(work_id)
        shown = {"lead_id": lead.lead_id, "phone_masked": lead.phone_masked, "variables": dict(lead.variables)}
        self._previews[work_id] = shown
        await self._push(work_id, {"type": "preview", "lead": shown})
        try:
            while True:
                message = await self._next(work_id, key=("lead_id", lead.lead_id))
                if message is not None and message.get("type") == "preview":
                    return bool(message.get("dial"))
        finally:
            self._previews.pop(work_id, None)


class FloorHooks(Protocol):
    """What the console tells the dialer (api.dialing.DialerPool, kept in ``state.extra["dialers"]``)."""

    async def agent_state(self, work_id: str, state: str) -> None: ...

    def console_away(self, work_id: str) -> None: ...

    async def console_back(self, work_id: str) -> None: ...

    def agent_left(self, work_id: str) -> None: ...


def floor_hooks(state: AppState) -> FloorHooks | None:
    hooks: FloorHooks | None = state.extra.get("dialers")
    return hooks


async def login_ended(state: AppState, work_id: str, reason: str) -> None:
    """A login ended without its console asking (forced out, shift end, idle): off the dialer's floor
    (after the current call), and the console is told and closed."""
    hooks = floor_hooks(state)
    if hooks is not None:
        hooks.agent_left(work_id)
    await console_of(state).signed_out(work_id, reason)


def console_of(state: AppState) -> ConsoleHub:
    hub = state.extra.get("console")
    if not isinstance(hub, ConsoleHub):
        hub = ConsoleHub()
        state.extra["console"] = hub
    return hub


async def _who(socket: WebSocket, state: AppState) -> tuple[User, str] | None:
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
        return user, token


async def _keep_alive(state: AppState, socket: WebSocket, token: str, work_id: str) -> None:
    """A connected console is a login in use: renew its idle expiry every quarter of the idle time. When the
    login has ended meanwhile (forced out, shift end), the console is told and closed."""
    every = state.settings.session_idle_minutes * 60.0 * _RENEW_SHARE
    while True:
        await asyncio.sleep(every)
        try:
            async with state.sessions() as session:
                await authenticate(state.agents, session, token, now=state.now())
                await session.commit()
        except WaihuError:
            await login_ended(state, work_id, "expired")
            return
        except Exception:  # the database is busy or away: try again at the next round
            log.warning("console %s: login not renewed; trying again", work_id)


@router.websocket("/ws/agent")
async def agent_console(socket: WebSocket) -> None:
    state = socket.app.state.waihu
    assert isinstance(state, AppState)
    await socket.accept()
    who = await _who(socket, state)
    if who is None:
        await socket.send_json(
            {
                "type": "error",
                "error_id": "api.not_authenticated",
                "message": "log in with a work ID that takes calls (call.take)",
            }
        )
        await socket.close(code=_REFUSED)
        return
    user, token = who
    hub = console_of(state)
    work_id = user.work_id
    await hub.attach(work_id, socket)
    hooks = floor_hooks(state)
    keeper: asyncio.Task[None] | None = None
    try:  # from here on, however the handler ends (a drop, a cancel, an error), the socket is detached
        if hooks is not None:
            await _floor_follows_record(state, hooks, work_id)
        keeper = asyncio.create_task(_keep_alive(state, socket, token, work_id), name=f"console-login-{work_id}")
        while True:
            message = await socket.receive_json()
            if not isinstance(message, dict):
                continue
            if message.get("type") == "state" and "state" not in message:
                await _tell_state(state, socket, work_id)
            elif message.get("type") == "state":
                await _change_state(state, socket, work_id, message)
            else:
                await hub.received(work_id, message)
    except WebSocketDisconnect:
        pass
    finally:
        hub.detach(work_id, socket)
        if keeper is not None:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
        if hooks is not None and not hub.connected(work_id):
            hooks.console_away(work_id)


async def _record_of(state: AppState, work_id: str) -> tuple[State, str | None]:
    """The agent's state and pause reason as the session record holds them (what the agent chose)."""
    async with state.sessions() as session:
        now = await current_state(session, work_id, now=state.now())
    return now.state, now.reason


async def _floor_follows_record(state: AppState, hooks: FloorHooks, work_id: str) -> None:
    """A console (re)connected: the dialer's floor takes the agent as the session record says, so the floor and
    the console's badge agree. Ready: back on the floor (after a dropped socket, or a restart of the app);
    paused: paused; just logged in (a new login after the old one ran out while the agent was ready): not on
    any floor until the agent says ready."""
    record, _ = await _record_of(state, work_id)
    if record is State.READY:
        await hooks.console_back(work_id)
        await hooks.agent_state(work_id, State.READY.value)
    elif record is State.PAUSED:
        await hooks.agent_state(work_id, State.PAUSED.value)
    elif record is State.LOGGED_IN:
        hooks.agent_left(work_id)
    else:
        await hooks.console_back(work_id)


async def _tell_state(state: AppState, socket: WebSocket, work_id: str) -> None:
    """Answer a console's question: the agent's state from the session record, and the call on its screen."""
    record, reason = await _record_of(state, work_id)
    call_id = console_of(state).call_on_screen(work_id)
    await socket.send_json({"type": "state", "state": record.value, "reason": reason, "call_id": call_id})


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
    hooks = floor_hooks(state)
    if hooks is not None:
        await hooks.agent_state(work_id, now.state.value)
    await socket.send_json({"type": "state", "state": now.state.value, "reason": now.reason})
