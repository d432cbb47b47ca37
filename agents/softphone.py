"""The agent's softphone: a pjsua2 SIP user agent that registers to Asterisk and auto-answers dialer calls.

pjsua2 is one C library per process with a thread-sensitive core, so :class:`SipRuntime` owns it on
a single thread of its own (``threadCnt=0``, ``mainThreadOnly``): that thread creates the library,
polls ``libHandleEvents`` and runs every pjsua2 call that other threads ask for, and all callbacks
arrive on it. Each :class:`Softphone` is one account (one agent) on the runtime; the wheel allows
4 calls per process, and an agent needs one. Audio goes to the null sound device unless a WAV file
is given as the agent's voice; signalling and media are bound to 127.0.0.1 by default.

A call whose media stops (no RTP received for ``media_timeout`` seconds: the PBX died without a BYE,
as a SIGKILLed Asterisk does) is reported as ``media-timeout`` and hung up: the phone does not sit
on a dead call. SIP session timers would notice too, but not before their 90 s minimum.

Callers on other threads (tests, the agent console) see state through :meth:`Softphone.wait_for`
(blocking) and :meth:`Softphone.until` (asyncio), or get every :class:`PhoneEvent` through the
``on_event`` callback, called on the runtime thread (hand it to a loop with ``call_soon_threadsafe``).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import pjsua2 as pj

__all__ = ["CallRecord", "PhoneEvent", "SipRuntime", "Softphone", "SoftphoneError"]

T = TypeVar("T")

#: how often the runtime thread checks the calls' incoming RTP
_WATCH_EVERY = 0.5
#: a confirmed call receiving no RTP this many seconds is dead (the PBX is gone) unless told otherwise
MEDIA_TIMEOUT = 8.0

_CALL_STATES: dict[int, str] = {
    pj.PJSIP_INV_STATE_NULL: "null",
    pj.PJSIP_INV_STATE_CALLING: "calling",
    pj.PJSIP_INV_STATE_INCOMING: "incoming",
    pj.PJSIP_INV_STATE_EARLY: "early",
    pj.PJSIP_INV_STATE_CONNECTING: "connecting",
    pj.PJSIP_INV_STATE_CONFIRMED: "confirmed",
    pj.PJSIP_INV_STATE_DISCONNECTED: "disconnected",
}


class SoftphoneError(Exception):
    """The SIP library could not start, or a softphone operation failed or timed out."""


@dataclass(frozen=True, slots=True)
class PhoneEvent:
    """A registration result (``code`` is the SIP status) or a call state change of one softphone."""

    username: str
    kind: Literal["registration", "call"]
    code: int
    state: str = ""
    call: str = ""  # the SIP Call-ID
    remote: str = ""
    at: float = field(default_factory=time.monotonic)


@dataclass(slots=True)
class CallRecord:
    """What the softphone knows about one call (kept after it ends, for the console and for tests)."""

    sip_call_id: str
    remote: str
    state: str = "incoming"
    status: int = 0
    answered_at: float | None = None
    ended_at: float | None = None


class SipRuntime:
    """The process's one pjsua2 library, running on its own thread until :meth:`stop`."""

    def __init__(self, *, host: str = "127.0.0.1", sip_port: int = 0, log_level: int = 0) -> None:
        self.host = host
        self.sip_port = sip_port
        self.log_level = log_level
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._endpoint: Any = None
        self._phones: list[Softphone] = []
        self.bound_port = 0

    def start(self, timeout: float = 10.0) -> None:
        """Start the library thread and wait until SIP is listening."""
        if self._thread is not None:
            raise SoftphoneError("the SIP runtime is already started")
        self._thread = threading.Thread(target=self._main, name="pjsua2", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise SoftphoneError("the SIP library did not start in time")
        if self._error is not None:
            raise SoftphoneError(f"the SIP library did not start: {self._error}") from self._error

    def stop(self, timeout: float = 10.0) -> None:
        """Hang up every call, unregister every phone and destroy the library."""
        if self._thread is None:
            return
        self._stopping.set()
        self._thread.join(timeout)
        self._thread = None

    def run(self, fn: Callable[[], T], timeout: float = 10.0) -> T:
        """Run ``fn`` on the library thread (pjsua2 may only be called there) and return its result."""
        if threading.current_thread() is self._thread:
            return fn()
        if self._thread is None or self._stopping.is_set():
            raise SoftphoneError("the SIP runtime is not running")
        future: Future[T] = Future()
        self._jobs.put((fn, future))
        return future.result(timeout)

    def _main(self) -> None:
        try:
            self._create()
        except BaseException as exc:  # reported to start(); the thread ends here
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            watched = time.monotonic()
            while not self._stopping.is_set():
                self._endpoint.libHandleEvents(20)
                self._drain()
                now = time.monotonic()
                if now - watched >= _WATCH_EVERY:
                    watched = now
                    for phone in list(self._phones):
                        phone._watch_media(now)
        finally:
            self._destroy()

    def _drain(self) -> None:
        while True:
            try:
                fn, future = self._jobs.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)

    def _create(self) -> None:
        ep = pj.Endpoint()
        ep.libCreate()
        cfg = pj.EpConfig()
        cfg.uaConfig.threadCnt = 0
        cfg.uaConfig.mainThreadOnly = True
        cfg.uaConfig.maxCalls = 4
        cfg.uaConfig.userAgent = "Waihu-Softphone"
        cfg.medConfig.threadCnt = 0
        cfg.medConfig.noVad = True  # keep RTP flowing in silence: recordings and timers see a steady stream
        cfg.logConfig.level = self.log_level
        cfg.logConfig.consoleLevel = self.log_level
        ep.libInit(cfg)
        tcfg = pj.TransportConfig()
        tcfg.port = self.sip_port
        tcfg.boundAddress = self.host
        transport_id = ep.transportCreate(pj.PJSIP_TRANSPORT_UDP, tcfg)
        ep.libStart()
        ep.audDevManager().setNullDev()
        self.bound_port = int(ep.transportGetInfo(transport_id).localName.rsplit(":", 1)[1])
        self._endpoint = ep

    def _destroy(self) -> None:
        self._drain()
        for phone in list(self._phones):
            phone._shutdown()
        self._phones.clear()
        ep, self._endpoint = self._endpoint, None
        if ep is not None:
            ep.hangupAllCalls()
            # Let BYEs and un-REGISTERs go out before the library is gone.
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                ep.libHandleEvents(20)
            ep.libDestroy()

    def _attach(self, phone: Softphone) -> None:
        self._phones.append(phone)

    def _detach(self, phone: Softphone) -> None:
        if phone in self._phones:
            self._phones.remove(phone)


class _Call(pj.Call):  # type: ignore[misc]  # pjsua2 has no type information
    def __init__(self, phone: Softphone, account: Any, call_id: int) -> None:
        super().__init__(account, call_id)
        self._phone = phone
        self.player: Any = None
        #: the active audio stream, once media is up; RTP packets received and when that count last moved
        self.media_index: int | None = None
        self.rx_packets = -1
        self.rx_moved_at = 0.0
        self.dead = False

    def onCallState(self, prm: Any) -> None:
        self._phone._on_call_state(self)

    def onCallMediaState(self, prm: Any) -> None:
        self._phone._on_call_media(self)


class _Account(pj.Account):  # type: ignore[misc]  # pjsua2 has no type information
    def __init__(self, phone: Softphone) -> None:
        super().__init__()
        self._phone = phone

    def onRegState(self, prm: Any) -> None:
        self._phone._on_registration(int(prm.code))

    def onIncomingCall(self, prm: Any) -> None:
        self._phone._on_incoming(self, int(prm.callId))


class Softphone:
    """One agent's SIP account on a :class:`SipRuntime`: registers, auto-answers, reports what happens."""

    def __init__(
        self,
        runtime: SipRuntime,
        username: str,
        password: str,
        *,
        registrar: str = "127.0.0.1:5060",
        auto_answer: bool = True,
        voice: Path | None = None,
        on_event: Callable[[PhoneEvent], None] | None = None,
        media_timeout: float | None = MEDIA_TIMEOUT,
    ) -> None:
        self.runtime = runtime
        #: a confirmed call receiving no RTP this long is dead (the PBX is gone): hung up; None: never
        self.media_timeout = media_timeout
        self.username = username
        self._password = password
        self.registrar = registrar
        self.auto_answer = auto_answer
        self.voice = voice
        self._on_event = on_event
        self._account: Any = None
        self._live: dict[int, _Call] = {}  # pjsua2 must not lose a Call object before it is disconnected
        self._cond = threading.Condition()
        self.registration_code = 0
        self.calls: list[CallRecord] = []
        self.events: list[PhoneEvent] = []

    # -- control (any thread) -------------------------------------------------------------------

    def register(self) -> None:
        """Create the account; the REGISTER goes out and its result arrives as an event."""
        self.runtime.run(self._create_account)

    def unregister(self) -> None:
        """Hang up this phone's calls and remove the account (un-REGISTER)."""
        self.runtime.run(self._shutdown)

    def hangup_all(self) -> None:
        """Hang up every live call of this phone (the agent ends the call)."""
        self.runtime.run(self._hangup_all)

    def wait_for(self, predicate: Callable[[Softphone], bool], timeout: float = 10.0) -> None:
        """Block until ``predicate(self)`` holds (checked after every event), or raise on timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout):
                raise SoftphoneError(f"{self.username}: condition not met within {timeout} s; events: {self.events}")

    async def until(self, predicate: Callable[[Softphone], bool], *, within: float = 10.0) -> None:
        """:meth:`wait_for` for asyncio code (waits on a worker thread, not on the loop)."""
        await asyncio.to_thread(self.wait_for, predicate, within)

    @property
    def registered(self) -> bool:
        """True after the registrar answered 200."""
        return self.registration_code == 200

    def active_calls(self) -> list[CallRecord]:
        """Calls not yet disconnected."""
        with self._cond:
            return [c for c in self.calls if c.ended_at is None]

    # -- runtime thread -------------------------------------------------------------------------

    def _create_account(self) -> None:
        if self._account is not None:
            return
        host = self.registrar.rsplit(":", 1)[0]
        cfg = pj.AccountConfig()
        cfg.idUri = f"sip:{self.username}@{host}"
        cfg.regConfig.registrarUri = f"sip:{self.registrar}"
        cfg.regConfig.timeoutSec = 300
        cfg.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", self.username, 0, self._password))
        cfg.mediaConfig.transportConfig.boundAddress = self.runtime.host
        account = _Account(self)
        account.create(cfg)
        self._account = account
        self.runtime._attach(self)

    def _shutdown(self) -> None:
        self._hangup_all()
        account, self._account = self._account, None
        if account is not None:
            account.shutdown()
        self.runtime._detach(self)

    def _hangup_all(self) -> None:
        for call in list(self._live.values()):
            prm = pj.CallOpParam()
            prm.statusCode = 200
            with contextlib.suppress(pj.Error):  # already ending
                call.hangup(prm)

    def _emit(self, event: PhoneEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()
        if self._on_event is not None:
            self._on_event(event)

    def _on_registration(self, code: int) -> None:
        with self._cond:
            self.registration_code = code
        self._emit(PhoneEvent(self.username, "registration", code, state="registered" if code == 200 else "failed"))

    def _on_incoming(self, account: Any, call_id: int) -> None:
        call = _Call(self, account, call_id)
        info = call.getInfo()
        with self._cond:
            self._live[call_id] = call
            self.calls.append(CallRecord(sip_call_id=info.callIdString, remote=info.remoteUri))
        self._emit(PhoneEvent(self.username, "call", 0, "incoming", info.callIdString, info.remoteUri))
        prm = pj.CallOpParam()
        prm.statusCode = 200 if self.auto_answer else 180
        call.answer(prm)

    def _record(self, sip_call_id: str) -> CallRecord | None:
        for record in reversed(self.calls):
            if record.sip_call_id == sip_call_id:
                return record
        return None

    def _on_call_state(self, call: _Call) -> None:
        info = call.getInfo()
        state = _CALL_STATES.get(info.state, str(info.state))
        code = int(info.lastStatusCode)
        with self._cond:
            record = self._record(info.callIdString)
            if record is not None:
                record.state = state
                record.status = code
                if state == "confirmed" and record.answered_at is None:
                    record.answered_at = time.monotonic()
                if state == "disconnected" and record.ended_at is None:
                    record.ended_at = time.monotonic()
        if state == "disconnected":
            if call.player is not None:
                call.player = None
            self._live.pop(call.getId(), None)
        self._emit(PhoneEvent(self.username, "call", code, state, info.callIdString, info.remoteUri))

    def _watch_media(self, now: float) -> None:
        """Hang up calls whose RTP stopped for ``media_timeout`` (runtime thread, every ``_WATCH_EVERY``)."""
        if self.media_timeout is None:
            return
        for call in list(self._live.values()):
            if call.media_index is None or call.dead:
                continue
            try:
                packets = int(call.getStreamStat(call.media_index).rtcp.rxStat.pkt)
            except pj.Error:  # the stream is gone (call ending)
                continue
            if packets != call.rx_packets:
                call.rx_packets, call.rx_moved_at = packets, now
                continue
            if now - call.rx_moved_at < self.media_timeout:
                continue
            call.dead = True
            info = call.getInfo()
            with self._cond:
                record = self._record(info.callIdString)
                if record is not None and record.ended_at is None:
                    record.state, record.ended_at = "media-timeout", now
            self._emit(PhoneEvent(self.username, "call", 0, "media-timeout", info.callIdString, info.remoteUri))
            prm = pj.CallOpParam()
            prm.statusCode = 200
            with contextlib.suppress(pj.Error):  # the BYE goes out; nobody may answer it
                call.hangup(prm)

    def _on_call_media(self, call: _Call) -> None:
        info = call.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                if call.media_index != index:
                    call.media_index, call.rx_packets, call.rx_moved_at = index, -1, time.monotonic()
                break
        if self.voice is None or call.player is not None:
            return
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status == pj.PJSUA_CALL_MEDIA_ACTIVE:
                player = pj.AudioMediaPlayer()
                player.createPlayer(str(self.voice))
                player.startTransmit(call.getAudioMedia(index))
                call.player = player
                return
