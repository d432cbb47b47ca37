"""The Asterisk backend: the :class:`~dialer.backends.base.TelephonyBackend` protocol over AMI (panoramisk).

Calls follow deploy/asterisk/extensions.conf: every call is originated as ``PJSIP/<number>@<trunk>``
with our call id as its ``ChannelId`` (so the customer leg's ``Uniqueid`` *is* the call id) and as
``WAIHU_CALL_ID``; once answered it waits in ``[waihu-outbound]`` for us. Bridging, playing and
starting a recording are a ``Setvar`` then a ``Redirect`` into ``[waihu-bridge]`` / ``[waihu-play]`` /
``[waihu-record]`` (AMI's MixMonitor action needs the ``system`` privilege, which our AMI user must not
have; so a call is recorded before it is bridged). One table maps the AMI events we read to handlers;
hang-up causes come from the customer leg's own ``Hangup`` event (``Cause`` with ``TechCause``, the SIP
status), which is exact, unlike ``DialEnd`` that folds most failures into NOANSWER.

panoramisk traps handled here: its own reconnect loop (fixed delay, untracked tasks) is replaced
by ours — one supervisor task reconnects with capped, jittered exponential backoff and reports the
connection state (:attr:`AsteriskBackend.state`, ``on_state``); every action is declared forgettable,
so panoramisk never re-sends one after a reconnect (an Originate never goes out twice), and actions
left unanswered by a dropped connection fail at once instead of hanging; its ping never reads the
reply (our watchdog does, and drops a half-open connection); replies carrying a pending ActionID go to
the action's future, not to event handlers (OriginateResponse is read from the future).

After every reconnect, calls in flight are reconciled with ``CoreShowChannels``: a call whose channel
is gone ended while we were away and gets its ``HungUp`` (cause: what we asked for, else ``normal`` if
it had been answered, else ``failed``; ``q850`` unknown), so no call record is left open; a call still
up gets the events it missed (Originated, Ringing, Answered, Bridged) and carries on. A channel that
turns up for a call already reconciled as gone is hung up (it would ring a customer nobody handles).
"""

from __future__ import annotations

import asyncio
import logging
import posixpath
import random
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

from panoramisk import Manager
from panoramisk.ami_protocol import AMIProtocol

from dialer.backends.base import Clock, EventStream
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

__all__ = ["AmiState", "AsteriskBackend", "AsteriskSettings", "backoff_delay", "hangup_cause"]

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
_PROMPT = re.compile(r"[A-Za-z0-9_/-]+(&[A-Za-z0-9_/-]+)*")
#: the message [waihu-play] answers with the site's safe-harbor prompt (``WAIHU_SAFE_HARBOR``)
SAFE_HARBOR = "safe-harbor"
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
    "getvar",
    "redirect",
    "stopmixmonitor",
    "coreshowchannels",
)
# Actions that may be sent again when the connection dropped before their reply: doing them twice
# changes nothing. Originate and Redirect are never repeated (a second customer call, a second hand-off).
_IDEMPOTENT = frozenset({"ping", "hangup", "setvar", "getvar", "stopmixmonitor", "coreshowchannels"})


class AmiState(StrEnum):
    """The AMI connection as /metrics reports it."""

    CONNECTING = "connecting"  # before the first login
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"  # lost; the supervisor is backing off and retrying
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class AsteriskSettings:
    r"""Where AMI is and how calls leave: the trunk, and the recordings directory as Asterisk sees it.

    ``number_rules``: regular-expression rewrites of the number before it is dialed, ``(pattern,
    replacement)`` pairs tried in order, the first that matches applies (``re.fullmatch``; a number
    no rule matches is dialed as it is) — e.g. ``(r"\+86(\d+)", r"0\1")`` for a carrier that wants
    national numbers.
    """

    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "waihu"
    secret: str = ""
    trunk: str = "loopback"
    context: str = "waihu-outbound"
    recordings_dir: str = "/var/spool/asterisk/monitor"
    number_rules: tuple[tuple[str, str], ...] = ()
    #: the channel an originate rings; ``Local/{number}@customers/n`` skips SIP (benchmarks)
    dial_template: str = "PJSIP/{number}@{trunk}"
    #: answering-machine detection on every call (``WAIHU_AMD=yes``): a machine ends as ``MachineDetected``
    amd: bool = False
    ping_interval: float = 5.0
    ping_timeout: float = 3.0
    connect_timeout: float = 5.0
    login_timeout: float = 10.0
    action_timeout: float = 10.0
    #: reconnect backoff: first delay, cap, and the share of each delay drawn at random (0..1)
    reconnect_initial: float = 0.5
    reconnect_max: float = 30.0
    reconnect_jitter: float = 0.3


def backoff_delay(attempt: int, settings: AsteriskSettings, rng: random.Random | None = None) -> float:
    """Seconds before reconnect ``attempt`` (0, 1, ...): doubling from the initial delay, capped, the
    top ``reconnect_jitter`` share random so that many dialers do not storm a restarted Asterisk at once."""
    base = min(settings.reconnect_max, settings.reconnect_initial * 2.0 ** min(attempt, 30))
    jitter = min(max(settings.reconnect_jitter, 0.0), 1.0)
    draw = rng.random() if rng is not None else random.random()
    return base * (1.0 - jitter * draw)


#: OriginateResponse ``Reason`` (Asterisk's control frame of the dial's end) → the Q.850 cause it stands for
_ORIGINATE_REASON_Q850: Final = {"3": 19, "5": 17, "8": 34}  # no answer, busy, congestion


@dataclass(slots=True)
class _Call:
    amd: bool
    channel: str | None = None
    ringing: bool = False
    up: bool = False
    endpoint: str | None = None
    bridged: bool = False
    recording: str | None = None
    recording_wanted: bool = False
    requested_cause: HangupCause | None = None
    originate_failed: bool = False
    ended: bool = False
    #: set when MixMonitor started, and when the call ended (so a waiter never waits in vain)
    recording_started: asyncio.Event = field(default_factory=asyncio.Event)


class _ConnectionLost(BackendError):
    """The AMI connection dropped before an action's reply."""


class _Manager(Manager):  # type: ignore[misc]  # panoramisk has no type information
    """panoramisk's Manager without its own reconnect loop and pinger: the backend's supervisor owns both."""

    def __init__(self, on_lost: Callable[[object], None], **config: Any) -> None:
        super().__init__(**config)
        self._on_lost = on_lost

    def ping(self) -> None:  # panoramisk's ping never reads its reply; our watchdog does
        self.pinger = None

    def connection_lost(self, exc: object) -> None:
        self._connected = False
        self.authenticated = False
        self._on_lost(exc)


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
    """Places and controls calls through one AMI connection, which it keeps up (reconnect, reconcile)."""

    def __init__(
        self,
        settings: AsteriskSettings,
        *,
        clock: Clock | None = None,
        on_state: Callable[[AmiState], None] | None = None,
        speak: Callable[[str], Awaitable[str]] | None = None,
    ) -> None:
        self.settings = settings
        self._clock: Clock = clock or RealClock()
        self._on_state = on_state
        #: a written message -> the prompt Asterisk plays for it (text-to-speech, recordings.prompts)
        self._speak = speak
        self._rules = [(re.compile(p), r) for p, r in settings.number_rules]
        self._calls: dict[str, _Call] = {}
        self._gone: set[str] = set()  # reconciled as ended: a channel turning up later is hung up
        self._queue: asyncio.Queue[CallEvent | None] = asyncio.Queue()
        self._manager: Any = None
        self._logged_in = asyncio.Event()
        self._lost = asyncio.Event()
        self._pending: set[asyncio.Future[Any]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        self._state = AmiState.CONNECTING
        #: times the connection was lost, re-established, and calls found ended by a reconcile
        self.disconnects = 0
        self.reconnects = 0
        self.ended_unseen = 0
        self._handlers: dict[str, Callable[[Mapping[str, Any]], None]] = {
            "Newchannel": self._on_newchannel,
            "Newstate": self._on_newstate,
            "DialEnd": self._on_dial_end,
            "Hangup": self._on_hangup,
            "UserEvent": self._on_user_event,
            "MixMonitorStart": self._on_mixmonitor_start,
        }

    # -- connection -------------------------------------------------------------------------------

    @property
    def state(self) -> AmiState:
        """The AMI connection's state (for /metrics and health checks)."""
        return self._state

    @property
    def connected(self) -> bool:
        return self._state is AmiState.CONNECTED

    def _set_state(self, state: AmiState) -> None:
        if state is self._state:
            return
        self._state = state
        if self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:
                log.exception("AMI state callback failed")

    async def start(self) -> None:
        """Connect and log in; raises :class:`BackendError` if AMI refuses us or is not there.

        From then on a supervisor task keeps the connection: it pings, reconnects with backoff, and
        reconciles calls in flight after each reconnect, until :meth:`aclose`.
        """
        s = self.settings
        if self._manager is not None:
            raise BackendError("the Asterisk backend is already started")
        self._manager = _Manager(
            self._connection_lost,
            loop=asyncio.get_running_loop(),
            host=s.host,
            port=s.port,
            username=s.username,
            secret=s.secret,
            ping_delay=10**6,
            forgetable_actions=_ACTIONS,
        )
        for name in self._handlers:
            self._manager.register_event(name, self._dispatch)
        try:
            await self._open()
        except BackendError:
            self._close_transport()
            raise
        self._spawn(self._supervise())

    async def _open(self) -> None:
        """One connection and login; on success the backend is connected."""
        s = self.settings
        loop = asyncio.get_running_loop()
        try:
            connected = await asyncio.wait_for(loop.create_connection(AMIProtocol, s.host, s.port), s.connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise BackendError(f"AMI at {s.host}:{s.port} is not reachable: {exc or type(exc).__name__}") from exc
        self._lost.clear()
        if self._manager.pinger is not None:  # the previous connection's (idle) ping timer
            self._manager.pinger.cancel()
        made: asyncio.Future[Any] = loop.create_future()
        made.set_result(connected)
        self._manager.connection_made(made)  # panoramisk's set-up of the protocol; sends Login
        login: asyncio.Future[Any] = self._manager.authenticated_future
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait({login, lost}, timeout=s.login_timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            await asyncio.gather(lost, return_exceptions=True)
        if self._lost.is_set():
            raise BackendError(f"AMI at {s.host}:{s.port} closed the connection at login")
        if not login.done():
            self._close_transport()
            raise BackendError(f"AMI at {s.host}:{s.port} did not answer our login")
        reply = login.result()
        if reply.get("Response") != "Success":
            self._close_transport()
            raise BackendError(f"AMI at {s.host}:{s.port} refused user {s.username}")
        self._manager.authenticated = True
        self._logged_in.set()
        self._set_state(AmiState.CONNECTED)

    def _close_transport(self) -> None:
        if self._manager is not None:
            self._manager.close()
        self._logged_in.clear()

    def _connection_lost(self, exc: object) -> None:
        """panoramisk saw the connection end (or Asterisk announced its shutdown)."""
        if self._lost.is_set():
            return
        self._lost.set()
        self._logged_in.clear()
        for future in list(self._pending):
            if not future.done():
                future.set_exception(_ConnectionLost("the AMI connection dropped before the reply"))
        if not self._closed and self._state is AmiState.CONNECTED:
            self.disconnects += 1
            log.warning("AMI connection lost (%s); reconnecting", exc or "closed")
            self._set_state(AmiState.RECONNECTING)

    async def _supervise(self) -> None:
        """Keep the connection: watch it while up; when lost, back off and reconnect, then reconcile."""
        attempt = 0
        while True:
            if self._logged_in.is_set():
                await self._watch()
                attempt = 0
            delay = backoff_delay(attempt, self.settings)
            attempt += 1
            await asyncio.sleep(delay)
            try:
                await self._open()
            except BackendError as exc:
                log.info("AMI reconnect attempt %d failed: %s", attempt, exc)
                continue
            self.reconnects += 1
            log.warning("AMI reconnected (attempt %d); reconciling %d calls in flight", attempt, len(self._calls))
            try:
                await self._reconcile()
            except BackendError as exc:  # lost again: the next reconnect reconciles
                log.warning("AMI reconcile failed: %s", exc)

    async def _watch(self) -> None:
        """Ping while connected and read the reply: a half-open connection is dropped. Returns when lost."""
        s = self.settings
        while not self._lost.is_set():
            try:
                await asyncio.wait_for(self._lost.wait(), s.ping_interval)
                return
            except TimeoutError:
                pass
            future = self._manager.send_action({"Action": "Ping"})
            self._pending.add(future)
            try:
                await asyncio.wait_for(future, s.ping_timeout)
            except TimeoutError:
                log.warning("AMI ping unanswered for %.1f s: dropping the connection", s.ping_timeout)
                self.drop_connection()
            except _ConnectionLost:
                pass
            finally:
                self._pending.discard(future)

    async def aclose(self) -> None:
        """Stop: tasks cancelled and awaited, the connection closed, the event stream ended."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._close_transport()
        for future in list(self._pending):
            if not future.done():
                future.cancel()
        self._calls.clear()
        self._set_state(AmiState.CLOSED)
        self._queue.put_nowait(None)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("AMI backend task failed", exc_info=task.exception())

    def drop_connection(self) -> None:
        """Drop the AMI connection as a network failure would (the supervisor reconnects); for the
        watchdog and tests."""
        protocol = getattr(self._manager, "protocol", None)
        if protocol is not None and not getattr(protocol, "closed", True):
            protocol.connection_lost(None)

    async def _reconcile(self) -> None:
        """After a reconnect: calls whose channel is gone ended while we were away; the others catch up."""
        reply = await self._send({"Action": "CoreShowChannels"}, as_list=True)
        channels = {m.get("Uniqueid"): m for m in reply if m.get("Event") == "CoreShowChannel"}
        for call_id in list(self._calls):
            call = self._calls.get(call_id)
            if call is None:  # a Hangup event arrived meanwhile
                continue
            channel = channels.get(call_id)
            if channel is None:
                log.warning("call %s ended while AMI was disconnected", call_id)
                self.ended_unseen += 1
                self._gone.add(call_id)
                self._end(call_id, None, None, {}, unseen=True)
                continue
            await self._catch_up(call_id, call, channel)

    async def _catch_up(self, call_id: str, call: _Call, channel: Mapping[str, Any]) -> None:
        """Emit what a live call did while we were away (its events are not replayed by Asterisk)."""
        now = self._clock.now()
        if call.channel is None:
            call.channel = channel.get("Channel")
            self._emit(Originated(call_id=call_id, at=now))
        state = channel.get("ChannelState")
        if state == _STATE_RINGING and not call.ringing:
            call.ringing = True
            self._emit(Ringing(call_id=call_id, at=now))
        if state == _STATE_UP and not call.up:
            call.up = True
            # With AMD the verdict arrives as a UserEvent; if AMD is no longer running, it was missed:
            # a person may be there, so the call goes to an agent.
            if not call.amd or channel.get("Application") != "AMD":
                self._emit(Answered(call_id=call_id, at=now))
        if call.endpoint is not None and not call.bridged and channel.get("BridgeId"):
            call.bridged = True
            self._emit(Bridged(call_id=call_id, at=now, endpoint=call.endpoint))
        if call.recording_wanted and not call.recording_started.is_set() and call.channel is not None:
            reply = await self._send({"Action": "Getvar", "Channel": call.channel, "Variable": "MIXMONITOR_FILENAME"})
            if reply.get("Value"):
                call.recording_started.set()

    async def _until_connected(self) -> None:
        """Wait (up to ``action_timeout``) until logged in; still logged in when it returns (no await after)."""
        async with asyncio.timeout(self.settings.action_timeout):
            while not self._logged_in.is_set():
                await self._logged_in.wait()

    async def _send(self, action: dict[str, Any], *, as_list: bool | None = None) -> Any:
        """Send an action when connected (waiting for a reconnect up to ``action_timeout``) and return its
        reply; an idempotent action whose reply a dropped connection swallowed is sent once more."""
        name = action["Action"]
        for attempt in (1, 2):
            if self._closed or self._manager is None:
                raise BackendError("the Asterisk backend is closed")
            try:
                await self._until_connected()
            except TimeoutError as exc:
                raise BackendError(f"AMI is not connected: {name} not sent") from exc
            future = self._manager.send_action(dict(action), as_list=as_list)
            self._pending.add(future)
            try:
                reply = await asyncio.wait_for(future, self.settings.action_timeout)
            except TimeoutError as exc:
                raise BackendError(f"AMI did not answer {name} in time") from exc
            except _ConnectionLost:
                if attempt == 1 and name.lower() in _IDEMPOTENT:
                    continue
                raise
            finally:
                self._pending.discard(future)
            first = reply[0] if isinstance(reply, list) else reply
            if first.get("Response") == "Error":
                raise BackendError(f"AMI refused {name}: {first.get('Message')}")
            return reply
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the backend interface --------------------------------------------------------------------

    def dial_string(self, number: str) -> str:
        """The channel an originate rings: ``dial_template`` with the number (rewritten by ``number_rules``)."""
        for pattern, replacement in self._rules:
            if pattern.fullmatch(number):
                number = pattern.sub(replacement, number)
                break
        return self.settings.dial_template.format(number=number, trunk=self.settings.trunk)

    async def originate(
        self,
        call_id: str,
        number: str,
        *,
        caller_id: str | None = None,
        variables: Mapping[str, str] | None = None,
        timeout: float = 25.0,  # noqa: ASYNC109  (the protocol's ring time, not a wait of ours)
    ) -> None:
        """Originate asynchronously; the outcome arrives as events (OriginateResponse is read, not awaited).

        If AMI is down and does not come back within ``action_timeout`` the call is not placed: it
        ends at once as ``failed`` (events, not an exception: the dialer records the attempt and the
        lead's retry rules apply). The Originate is sent once, never again after a reconnect.
        """
        if self._closed:
            raise BackendError("the Asterisk backend is closed")
        if call_id in self._calls:
            raise DuplicateCallId(f"call {call_id} is already in progress", details={"call_id": call_id})
        merged = {
            "WAIHU_RECORD": "no",
            **({"WAIHU_AMD": "yes"} if self.settings.amd else {}),
            **(variables or {}),
            "WAIHU_CALL_ID": call_id,
        }
        action: dict[str, Any] = {
            "Action": "Originate",
            "ActionID": f"originate-{call_id}",
            "Channel": self.dial_string(number),
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
        self._calls[call_id] = _Call(amd=merged.get("WAIHU_AMD") == "yes")
        try:
            await self._until_connected()
        except TimeoutError:
            log.warning("call %s not placed: AMI is not connected", call_id)
            self._emit(Originated(call_id=call_id, at=self._clock.now()))
            self._end(call_id, None, None, {})
            return
        if call_id not in self._calls:  # closed meanwhile
            return
        future = self._manager.send_action(action)
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
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
        """Play ``message`` to the customer: Asterisk prompt names (``a&b`` plays both), or any other text —
        a campaign's written safe-harbor message — spoken by ``speak`` (the backend's text-to-speech) when it
        has one, else (or when speaking fails) the site's recorded safe-harbor prompt (``WAIHU_SAFE_HARBOR``
        in extensions.conf). ``PlaybackFinished`` follows, its ``message`` the prompt that played."""
        self._up(call_id)
        prompt = message if _PROMPT.fullmatch(message) else await self._spoken(message)
        call = self._up(call_id)  # again: the customer may have hung up while the message was spoken
        await self._redirect(call, "waihu-play", WAIHU_MESSAGE=prompt)

    async def _spoken(self, text: str) -> str:
        if self._speak is None:
            return SAFE_HARBOR
        try:
            prompt = await self._speak(text)
        except Exception:  # a missing espeak-ng must not leave the customer in silence: the site's prompt
            log.exception("the message could not be spoken; playing the site's safe-harbor prompt")
            return SAFE_HARBOR
        if not _PROMPT.fullmatch(prompt):
            log.error("spoken prompt %r is not a playable name; playing the site's safe-harbor prompt", prompt)
            return SAFE_HARBOR
        return prompt

    async def start_recording(self, call_id: str, path: str) -> None:
        """Record from now on; only before :meth:`bridge` (the dialplan starts MixMonitor, see the module doc).

        ``path`` is relative to the recordings directory, or an absolute path inside it as Asterisk sees
        it (``settings.recordings_dir``).
        """
        call = self._up(call_id)
        if call.recording is not None or call.recording_wanted:
            raise CallStateError(f"call {call_id} is already recording", details={"call_id": call_id})
        if call.bridged or call.endpoint is not None:
            raise CallStateError(f"call {call_id} is bridged: record before bridging", details={"call_id": call_id})
        clean = posixpath.normpath(path)
        base = posixpath.normpath(self.settings.recordings_dir)
        if clean.startswith(base + "/"):
            clean = clean[len(base) + 1 :]
        if clean.startswith(("/", "..")) or not _SAFE_PATH.fullmatch(clean):
            raise CallStateError("a recording path must stay inside the recordings directory", details={"path": path})
        call.recording_started.clear()
        call.recording_wanted = True
        await self._redirect(call, "waihu-record", WAIHU_RECORD_FILE=clean)
        # A redirect right after this one (the bridge) would overtake MixMonitor: wait until it runs.
        try:
            await asyncio.wait_for(call.recording_started.wait(), self.settings.action_timeout)
        except TimeoutError as exc:
            raise BackendError(f"call {call_id}: recording did not start", details={"call_id": call_id}) from exc
        if call.ended:
            raise CallNotFound(f"call {call_id} ended before its recording started", details={"call_id": call_id})
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
        return EventStream(self._queue)

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
            return  # connection lost: the reconcile after the reconnect decides what became of the call
        reply = future.result()
        last = reply[-1] if isinstance(reply, list) else reply
        call = self._calls.get(call_id)
        if call is None or last.get("Response") not in ("Failure", "Error"):
            return
        call.originate_failed = True
        if call.channel is None:
            # No channel was ever created (unknown trunk, refused action, or the far end's answer to the
            # dial before any channel event): no Hangup event will come. Its Reason says why, when it does.
            self._emit(Originated(call_id=call_id, at=self._clock.now()))
            self._end(call_id, _ORIGINATE_REASON_Q850.get(str(last.get("Reason", ""))), None, last)

    def _dispatch(self, manager: Any, event: Mapping[str, Any]) -> None:
        call_id = event.get("Uniqueid")
        if call_id not in self._calls:
            if call_id in self._gone and event.get("Event") == "Newchannel" and event.get("Channel"):
                # The originate went out just before the connection dropped and its channel appeared
                # after we had reconciled the call as never placed: nobody would handle it.
                log.warning("call %s reappeared after it was reconciled as ended: hanging it up", call_id)
                self._spawn(self._hang_up_orphan(str(event["Channel"])))
            return
        self._handlers[event["Event"]](event)

    async def _hang_up_orphan(self, channel: str) -> None:
        try:
            await self._send({"Action": "Hangup", "Channel": channel, "Cause": "41"})
        except BackendError as exc:
            log.warning("could not hang up orphan channel %s: %s", channel, exc)

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
        if call.channel is None:  # Newchannel was missed (a reconnect in between)
            self._on_newchannel(event)
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
        call.ended = True
        call.recording_started.set()  # wake a start_recording waiting for a MixMonitor that will not come
        now, wall = self._clock.now(), _wall(event)
        if call.recording is not None:
            self._emit(RecordingStopped(call_id=call_id, at=now, wall=wall, path=call.recording))
        if unseen:
            if call.channel is None:  # never seen on Asterisk: every call's events still begin with Originated
                self._emit(Originated(call_id=call_id, at=now))
            cause = call.requested_cause or (HangupCause.NORMAL if call.up else HangupCause.FAILED)
            self._emit(HungUp(call_id=call_id, at=now, wall=wall, cause=cause, q850=None))
            return
        if not q850 and call.up and tech is None:
            q850 = 16  # the far end sent BYE after answering: Asterisk reports cause 0, it is normal clearing
        cause = call.requested_cause or hangup_cause(q850, tech)
        self._emit(HungUp(call_id=call_id, at=now, wall=wall, cause=cause, q850=q850))
