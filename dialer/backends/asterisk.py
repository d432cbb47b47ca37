"""The Asterisk backend: the :class:`~dialer.backends.base.TelephonyBackend` protocol over AMI (panoramisk).

Calls follow deploy/asterisk/extensions.conf: every call is originated as ``PJSIP/<number>@<trunk>``
with our call id as its ``ChannelId`` (so the customer leg's ``Uniqueid`` *is* the call id) and as
``WAIHU_CALL_ID``; once answered it waits in ``[waihu-outbound]`` for us. Bridging, playing and
starting a recording are a ``Setvar`` then a ``Redirect`` into ``[waihu-bridge]`` / ``[waihu-play]`` /
``[waihu-record]`` (AMI's MixMonitor action needs the ``system`` privilege, which our AMI user must not
have; so a call is recorded before it is bridged). One table maps the AMI events we read to handlers;
hang-up causes come from the customer leg's own ``Hangup`` event (``Cause`` with ``TechCause``, the SIP
status), which is exact, unlike ``DialEnd`` that folds most failures into NOANSWER.

panoramisk traps handled here: it re-sends unanswered actions after a reconnect (so every action is
declared forgettable: an Originate never goes out twice), its ping never reads the reply (our
watchdog does, and drops a half-open connection), and replies carrying a pending ActionID go to the
action's future, not to event handlers (OriginateResponse is read from the future). After a
reconnect, calls in flight are reconciled with ``CoreShowChannels``: a call whose channel is gone
gets its ``HungUp``, so no call record is left open.
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import re
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from panoramisk import Manager

from dialer.backends.base import Clock
from dialer.backends.clock import RealClock
from dialer.errors import BackendError, CallNotFound, CallStateError, DuplicateCallId
from dialer.events import (
    Answered,
    Bridged,
    CallEvent,
    HangupCause,
    HungUp,
    MachineDetected,
    Originated,
    PlaybackFinished,
    RecordingStarted,
    RecordingStopped,
    Ringing,
    cause_from_q850,
)

__all__ = ["AsteriskBackend", "AsteriskSettings", "hangup_cause"]

log = logging.getLogger(__name__)

# Q.850 codes we send when the dialer ends a call.
_CAUSE_TO_Q850: dict[HangupCause, int] = {
    HangupCause.NORMAL: 16,
    HangupCause.ABANDONED: 16,
    HangupCause.MACHINE: 16,
    HangupCause.BUSY: 17,
    HangupCause.NO_ANSWER: 19,
    HangupCause.REJECTED: 21,
    HangupCause.INVALID_NUMBER: 1,
    HangupCause.CONGESTION: 34,
    HangupCause.FAILED: 41,
}
# SIP final responses that say more than the Q.850 code Asterisk derived from them.
_SIP_TO_CAUSE: dict[int, HangupCause] = {
    404: HangupCause.INVALID_NUMBER,
    484: HangupCause.INVALID_NUMBER,
    486: HangupCause.BUSY,
    600: HangupCause.BUSY,
    403: HangupCause.REJECTED,
    603: HangupCause.REJECTED,
    408: HangupCause.NO_ANSWER,
    480: HangupCause.NO_ANSWER,
    487: HangupCause.NO_ANSWER,  # we cancelled at the ring timeout
    503: HangupCause.CONGESTION,
}
_SAFE_PATH = re.compile(r"[A-Za-z0-9._/-]+")
_STATE_RINGING = "5"
_STATE_UP = "6"
# Every action we send: panoramisk must never re-send one of them after a reconnect.
_ACTIONS: tuple[str, ...] = (
    "ping",
    "login",
    "logoff",
    "originate",
    "hangup",
    "setvar",
    "redirect",
    "stopmixmonitor",
    "coreshowchannels",
)


@dataclass(frozen=True, slots=True)
class AsteriskSettings:
    """Where AMI is and how calls leave: the trunk, and the recordings directory as Asterisk sees it."""

    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "waihu"
    secret: str = ""
    trunk: str = "loopback"
    context: str = "waihu-outbound"
    recordings_dir: str = "/var/spool/asterisk/monitor"
    ping_interval: float = 5.0
    ping_timeout: float = 3.0
    login_timeout: float = 10.0
    action_timeout: float = 10.0


@dataclass(slots=True)
class _Call:
    amd: bool
    channel: str | None = None
    ringing: bool = False
    up: bool = False
    endpoint: str | None = None
    bridged: bool = False
    recording: str | None = None
    requested_cause: HangupCause | None = None
    originate_failed: bool = False
    recording_started: asyncio.Event = field(default_factory=asyncio.Event)


class _EventStream:
    """The single-consumer event iterator; ends at the close marker."""

    def __init__(self, queue: asyncio.Queue[CallEvent | None]) -> None:
        self._queue = queue
        self._done = False

    def __aiter__(self) -> _EventStream:
        return self

    async def __anext__(self) -> CallEvent:
        if self._done:
            raise StopAsyncIteration
        event = await self._queue.get()
        if event is None:
            self._done = True
            raise StopAsyncIteration
        return event


def _wall(event: Mapping[str, Any]) -> datetime | None:
    stamp = event.get("Timestamp")
    try:
        return datetime.fromtimestamp(float(stamp), UTC) if stamp else None
    except ValueError:
        return None


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def hangup_cause(cause: int | None, tech_cause: int | None) -> HangupCause:
    """Our cause from Asterisk's ``Cause`` (Q.850) and ``TechCause`` (the SIP status, when there is one)."""
    if tech_cause is not None and tech_cause in _SIP_TO_CAUSE:
        return _SIP_TO_CAUSE[tech_cause]
    return cause_from_q850(cause)


class AsteriskBackend:
    """Places and controls calls through one AMI connection; reconnects by itself (panoramisk)."""

    def __init__(self, settings: AsteriskSettings, *, clock: Clock | None = None) -> None:
        self.settings = settings
        self._clock: Clock = clock or RealClock()
        self._calls: dict[str, _Call] = {}
        self._queue: asyncio.Queue[CallEvent | None] = asyncio.Queue()
        self._manager: Any = None
        self._logged_in = asyncio.Event()
        self._logins = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._handlers: dict[str, Callable[[Mapping[str, Any]], None]] = {
            "Newchannel": self._on_newchannel,
            "Newstate": self._on_newstate,
            "DialEnd": self._on_dial_end,
            "Hangup": self._on_hangup,
            "UserEvent": self._on_user_event,
            "MixMonitorStart": self._on_mixmonitor_start,
        }

    # -- connection -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect and log in; raises :class:`BackendError` if AMI refuses us or is not there."""
        s = self.settings
        self._manager = Manager(
            loop=asyncio.get_running_loop(),
            host=s.host,
            port=s.port,
            username=s.username,
            secret=s.secret,
            ping_delay=10**6,  # panoramisk's ping never reads its reply; our watchdog does
            reconnect_timeout=1,
            forgetable_actions=_ACTIONS,
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
        )
        for name in self._handlers:
            self._manager.register_event(name, self._dispatch)
        try:
            await self._manager.connect()
            login = self._manager.authenticated_future
            if login is not None:
                await asyncio.wait_for(asyncio.shield(login), s.login_timeout)
            await asyncio.sleep(0)  # panoramisk's login callback runs next
        except (OSError, TimeoutError) as exc:
            self._manager.close()
            raise BackendError(f"AMI at {s.host}:{s.port} is not reachable: {exc}") from exc
        if not self._manager.authenticated:
            self._manager.close()
            raise BackendError(f"AMI at {s.host}:{s.port} refused user {s.username}")
        self._spawn(self._watchdog())

    async def aclose(self) -> None:
        """Stop: tasks cancelled and awaited, the connection closed, the event stream ended."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._manager is not None:
            # A reconnect panoramisk already scheduled must find nothing to do.
            self._manager.on_disconnect = lambda *_: None
            self._manager.connect = lambda *_, **__: None
            self._manager.close()
        self._calls.clear()
        self._queue.put_nowait(None)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("AMI backend task failed", exc_info=task.exception())

    def _on_login(self, manager: Any) -> None:
        self._logins += 1
        self._logged_in.set()
        if self._logins > 1 and not self._closed:
            self._spawn(self._reconcile())

    def _on_disconnect(self, manager: Any, exc: object) -> None:
        self._logged_in.clear()
        log.warning("AMI connection lost; panoramisk reconnects")

    async def _watchdog(self) -> None:
        """Ping and read the reply: a half-open connection is dropped so that panoramisk reconnects."""
        s = self.settings
        while True:
            await asyncio.sleep(s.ping_interval)
            if not self._logged_in.is_set():
                continue
            try:
                await asyncio.wait_for(self._manager.send_action({"Action": "Ping"}), s.ping_timeout)
            except TimeoutError:
                log.warning("AMI ping unanswered for %.1f s: dropping the connection", s.ping_timeout)
                self.drop_connection()

    def drop_connection(self) -> None:
        """Drop the AMI connection as a network failure would (panoramisk reconnects); for the watchdog and tests."""
        protocol = getattr(self._manager, "protocol", None)
        if protocol is not None:
            protocol.connection_lost(None)

    async def _reconcile(self) -> None:
        """After a reconnect: calls whose channel is gone ended while we were away; end their records."""
        reply = await self._send({"Action": "CoreShowChannels"}, as_list=True)
        alive = {m.get("Uniqueid") for m in reply if m.get("Event") == "CoreShowChannel"}
        for call_id in [c for c in self._calls if c not in alive]:
            log.warning("call %s ended while AMI was disconnected", call_id)
            self._end(call_id, None, None, {}, unseen=True)

    async def _send(self, action: dict[str, Any], *, as_list: bool | None = None) -> Any:
        if self._closed or self._manager is None:
            raise BackendError("the Asterisk backend is closed")
        try:
            await asyncio.wait_for(self._logged_in.wait(), self.settings.action_timeout)
            reply = await asyncio.wait_for(
                self._manager.send_action(action, as_list=as_list), self.settings.action_timeout
            )
        except TimeoutError as exc:
            raise BackendError(f"AMI did not answer {action['Action']} in time") from exc
        first = reply[0] if isinstance(reply, list) else reply
        if first.get("Response") == "Error":
            raise BackendError(f"AMI refused {action['Action']}: {first.get('Message')}")
        return reply

    # -- the backend interface --------------------------------------------------------------------

    async def originate(
        self,
        call_id: str,
        number: str,
        *,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        timeout: float = 25.0,  # noqa: ASYNC109  (the protocol's ring time, not a wait of ours)
    ) -> None:
        """Originate asynchronously; the outcome arrives as events (OriginateResponse is read, not awaited)."""
        if self._closed:
            raise BackendError("the Asterisk backend is closed")
        if call_id in self._calls:
            raise DuplicateCallId(f"call {call_id} is already in progress", details={"call_id": call_id})
        merged = {"WAIHU_RECORD": "no", **(variables or {}), "WAIHU_CALL_ID": call_id}
        action: dict[str, Any] = {
            "Action": "Originate",
            "ActionID": f"originate-{call_id}",
            "Channel": f"PJSIP/{number}@{self.settings.trunk}",
            "Context": self.settings.context,
            "Exten": "s",
            "Priority": "1",
            "Async": "true",
            "Timeout": str(int(timeout * 1000)),
            "ChannelId": call_id,
            "Variable": [f"{k}={v}" for k, v in merged.items()],
        }
        if caller_id:
            action["CallerID"] = caller_id
        if not self._logged_in.is_set():
            raise BackendError("AMI is not connected; the call was not placed", details={"call_id": call_id})
        self._calls[call_id] = _Call(amd=merged.get("WAIHU_AMD") == "yes")
        future = self._manager.send_action(action)
        future.add_done_callback(lambda f: self._on_originate_response(call_id, f))

    async def hangup(self, call_id: str, cause: HangupCause = HangupCause.NORMAL) -> None:
        call = self._get(call_id)
        call.requested_cause = cause
        if call.channel is None:
            raise CallStateError(f"call {call_id} has no channel yet", details={"call_id": call_id})
        await self._send({"Action": "Hangup", "Channel": call.channel, "Cause": str(_CAUSE_TO_Q850[cause])})

    async def bridge(self, call_id: str, endpoint: str) -> None:
        call = self._up(call_id)
        if call.bridged:
            raise CallStateError(f"call {call_id} is already bridged", details={"call_id": call_id})
        call.endpoint = endpoint
        await self._redirect(call, "waihu-bridge", WAIHU_ENDPOINT=endpoint)

    async def play(self, call_id: str, message: str) -> None:
        call = self._up(call_id)
        await self._redirect(call, "waihu-play", WAIHU_MESSAGE=message)

    async def start_recording(self, call_id: str, path: str) -> None:
        """Record from now on; only before :meth:`bridge` (the dialplan starts MixMonitor, see the module doc)."""
        call = self._up(call_id)
        if call.recording is not None:
            raise CallStateError(f"call {call_id} is already recording", details={"call_id": call_id})
        if call.bridged or call.endpoint is not None:
            raise CallStateError(f"call {call_id} is bridged: record before bridging", details={"call_id": call_id})
        clean = posixpath.normpath(path)
        if clean.startswith(("/", "..")) or not _SAFE_PATH.fullmatch(clean):
            raise CallStateError("a recording path must stay inside the recordings directory", details={"path": path})
        call.recording_started.clear()
        await self._redirect(call, "waihu-record", WAIHU_RECORD_FILE=clean)
        # A redirect right after this one (the bridge) would overtake MixMonitor: wait until it runs.
        try:
            await asyncio.wait_for(call.recording_started.wait(), self.settings.action_timeout)
        except TimeoutError as exc:
            raise BackendError(f"call {call_id}: recording did not start", details={"call_id": call_id}) from exc
        call.recording = path
        self._emit(RecordingStarted(call_id=call_id, at=self._clock.now(), path=path))

    async def stop_recording(self, call_id: str) -> None:
        call = self._get(call_id)
        if call.recording is None:
            raise CallStateError(f"call {call_id} is not recording", details={"call_id": call_id})
        await self._send({"Action": "StopMixMonitor", "Channel": call.channel})
        path, call.recording = call.recording, None
        self._emit(RecordingStopped(call_id=call_id, at=self._clock.now(), path=path))

    def events(self) -> AsyncIterator[CallEvent]:
        return _EventStream(self._queue)

    # -- internals --------------------------------------------------------------------------------

    def _get(self, call_id: str) -> _Call:
        try:
            return self._calls[call_id]
        except KeyError:
            raise CallNotFound(f"no call {call_id} in progress", details={"call_id": call_id}) from None

    def _up(self, call_id: str) -> _Call:
        call = self._get(call_id)
        if not call.up or call.channel is None:
            raise CallStateError(f"call {call_id} has not been answered", details={"call_id": call_id})
        return call

    async def _redirect(self, call: _Call, context: str, **variables: str) -> None:
        # One AMI session runs its actions in order: the variable is set before the call moves.
        for name, value in variables.items():
            await self._send({"Action": "Setvar", "Channel": call.channel, "Variable": name, "Value": value})
        await self._send(
            {"Action": "Redirect", "Channel": call.channel, "Context": context, "Exten": "s", "Priority": "1"}
        )

    def _emit(self, event: CallEvent) -> None:
        self._queue.put_nowait(event)

    def _on_originate_response(self, call_id: str, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            return
        reply = future.result()
        last = reply[-1] if isinstance(reply, list) else reply
        call = self._calls.get(call_id)
        if call is None or last.get("Response") not in ("Failure", "Error"):
            return
        call.originate_failed = True
        if call.channel is None:
            # No channel was ever created (unknown trunk, refused action): no Hangup event will come.
            self._emit(Originated(call_id=call_id, at=self._clock.now()))
            self._end(call_id, None, None, last)

    def _dispatch(self, manager: Any, event: Mapping[str, Any]) -> None:
        call_id = event.get("Uniqueid")
        if call_id not in self._calls:
            return
        self._handlers[event["Event"]](event)

    def _on_newchannel(self, event: Mapping[str, Any]) -> None:
        call_id = event["Uniqueid"]
        call = self._calls[call_id]
        if call.channel is None:
            call.channel = event.get("Channel")
            self._emit(Originated(call_id=call_id, at=self._clock.now(), wall=_wall(event)))

    def _on_newstate(self, event: Mapping[str, Any]) -> None:
        call_id = event["Uniqueid"]
        call = self._calls[call_id]
        state = event.get("ChannelState")
        if state == _STATE_RINGING and not call.ringing:
            call.ringing = True
            self._emit(Ringing(call_id=call_id, at=self._clock.now(), wall=_wall(event)))
        elif state == _STATE_UP and not call.up:
            call.up = True
            if not call.amd:
                self._emit(Answered(call_id=call_id, at=self._clock.now(), wall=_wall(event)))

    def _on_dial_end(self, event: Mapping[str, Any]) -> None:
        call_id = event["Uniqueid"]
        call = self._calls[call_id]
        if event.get("DialStatus") == "ANSWER" and call.endpoint is not None and not call.bridged:
            call.bridged = True
            self._emit(Bridged(call_id=call_id, at=self._clock.now(), wall=_wall(event), endpoint=call.endpoint))

    def _on_mixmonitor_start(self, event: Mapping[str, Any]) -> None:
        self._calls[event["Uniqueid"]].recording_started.set()

    def _on_user_event(self, event: Mapping[str, Any]) -> None:
        call_id = event["Uniqueid"]
        name = event.get("UserEvent")
        now, wall = self._clock.now(), _wall(event)
        if name == "WaihuAMD":
            if event.get("Status") == "MACHINE":
                self._emit(MachineDetected(call_id=call_id, at=now, wall=wall))
            else:
                self._emit(Answered(call_id=call_id, at=now, wall=wall))
        elif name == "WaihuPlaybackFinished":
            self._emit(PlaybackFinished(call_id=call_id, at=now, wall=wall, message=event.get("Message", "")))

    def _on_hangup(self, event: Mapping[str, Any]) -> None:
        self._end(event["Uniqueid"], _int(event.get("Cause")), _int(event.get("TechCause")), event)

    def _end(
        self, call_id: str, q850: int | None, tech: int | None, event: Mapping[str, Any], *, unseen: bool = False
    ) -> None:
        """The call's last events. ``unseen``: it ended while AMI was away, so its cause is unknown (no Q.850)."""
        call = self._calls.pop(call_id, None)
        if call is None:
            return
        now, wall = self._clock.now(), _wall(event)
        if call.recording is not None:
            self._emit(RecordingStopped(call_id=call_id, at=now, wall=wall, path=call.recording))
        if unseen:
            cause = call.requested_cause or (HangupCause.NORMAL if call.up else HangupCause.FAILED)
            self._emit(HungUp(call_id=call_id, at=now, wall=wall, cause=cause, q850=None))
            return
        if not q850 and call.up and tech is None:
            q850 = 16  # the far end sent BYE after answering: Asterisk reports cause 0, it is normal clearing
        cause = call.requested_cause or hangup_cause(q850, tech)
        self._emit(HungUp(call_id=call_id, at=now, wall=wall, cause=cause, q850=q850))
