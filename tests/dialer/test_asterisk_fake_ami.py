"""The Asterisk backend against a small fake AMI server (unit level; tests/telephony runs the real Asterisk):
an originate Asterisk refuses with a reason, and an originate lost with the connection."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from dialer.backends.asterisk import AsteriskBackend, AsteriskSettings, _Call
from dialer.errors import CallStateError
from dialer.events import CallEvent, HangupCause, HungUp, Originated


@dataclass
class FakeAmi:
    """Answers Login, Ping and CoreShowChannels; Originate as ``originate`` says."""

    originate: str = "queue"  # queue: accepted, nothing more | fail:<reason>: refused with that Reason | silent
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    originates: int = 0
    originated: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        fields: dict[str, str] = {}
        while line := await reader.readline():
            text = line.decode().strip()
            if text:
                key, _, value = text.partition(": ")
                fields[key] = value
                continue
            action, fields = fields, {}
            name, aid = action.get("Action", "").lower(), action.get("ActionID", "")
            ok = f"Response: Success\r\nActionID: {aid}\r\n"
            if name == "originate":
                self.originates += 1
                self.originated.set()
                if self.originate == "silent":
                    continue
                writer.write(f"{ok}Message: Originate successfully queued\r\n\r\n".encode())
                if self.originate.startswith("fail:"):
                    reason = self.originate.partition(":")[2]
                    writer.write(
                        f"Event: OriginateResponse\r\nActionID: {aid}\r\nResponse: Failure\r\n"
                        f"Channel: {action.get('Channel')}\r\nReason: {reason}\r\nUniqueid: <null>\r\n\r\n".encode()
                    )
            elif name == "coreshowchannels":
                writer.write(
                    f"{ok}EventList: start\r\nMessage: Channels will follow\r\n\r\n"
                    f"Event: CoreShowChannelsComplete\r\nActionID: {aid}\r\n"
                    "EventList: Complete\r\nListItems: 0\r\n\r\n".encode()
                )
            else:
                writer.write(f"{ok}Message: ok\r\n\r\n".encode())
            await writer.drain()


@dataclass
class Seen:
    """The backend's events, and one flag per call that has hung up."""

    events: list[CallEvent] = field(default_factory=list)
    ended: defaultdict[str, asyncio.Event] = field(default_factory=lambda: defaultdict(asyncio.Event))

    async def of(self, call_id: str) -> list[CallEvent]:
        """The call's events once it has hung up."""
        async with asyncio.timeout(5):
            await self.ended[call_id].wait()
        return [e for e in self.events if e.call_id == call_id]


@pytest.fixture
async def fake_ami() -> AsyncIterator[tuple[FakeAmi, AsteriskBackend, Seen]]:
    ami = FakeAmi()
    server = await asyncio.start_server(ami.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = AsteriskSettings(
        port=port, secret="x", ping_interval=0.3, ping_timeout=0.3, reconnect_initial=0.1, reconnect_jitter=0,
        action_timeout=1.0,
    )  # fmt: skip
    backend = AsteriskBackend(settings)
    await backend.start()
    seen = Seen()

    async def consume() -> None:
        async for event in backend.events():
            seen.events.append(event)
            if isinstance(event, HungUp):
                seen.ended[event.call_id].set()

    consumer = asyncio.create_task(consume())
    try:
        yield ami, backend, seen
    finally:
        await backend.aclose()
        await consumer
        for writer in ami.writers:
            writer.close()
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("reason", "cause", "q850"),
    [("5", HangupCause.BUSY, 17), ("8", HangupCause.CONGESTION, 34), ("3", HangupCause.NO_ANSWER, 19),
     ("0", HangupCause.FAILED, None)],
)  # fmt: skip
async def test_an_originate_refused_before_any_channel_ends_with_the_reasons_cause(
    fake_ami: tuple[FakeAmi, AsteriskBackend, Seen], reason: str, cause: HangupCause, q850: int | None
) -> None:
    ami, backend, events = fake_ami
    ami.originate = f"fail:{reason}"
    await backend.originate("c-refused", "13900000000")
    seen = await events.of("c-refused")
    assert [type(e) for e in seen] == [Originated, HungUp]
    hung = seen[-1]
    assert isinstance(hung, HungUp)
    assert (hung.cause, hung.q850) == (cause, q850)


async def test_an_originate_lost_with_the_connection_still_begins_with_originated(
    fake_ami: tuple[FakeAmi, AsteriskBackend, Seen],
) -> None:
    ami, backend, events = fake_ami
    ami.originate = "silent"  # no reply: the connection drops with the originate in flight
    await backend.originate("c-lost", "13912345678")
    async with asyncio.timeout(5):
        await ami.originated.wait()
    ami.writers[-1].close()
    seen = await events.of("c-lost")
    assert [type(e) for e in seen] == [Originated, HungUp]
    hung = seen[-1]
    assert isinstance(hung, HungUp)
    assert hung.cause is HangupCause.FAILED
    assert ami.originates == 1  # never sent twice


def _answered(backend: AsteriskBackend, call_id: str) -> list[dict[str, str]]:
    """An answered call on ``backend``, whose redirects are captured instead of sent (no AMI needed)."""
    sent: list[dict[str, str]] = []

    async def redirect(call: object, context: str, **variables: str) -> None:
        sent.append({"context": context, **variables})

    backend._calls[call_id] = _Call(amd=False, channel="PJSIP/loopback-00000001", up=True)
    backend._redirect = redirect  # type: ignore[method-assign]
    return sent


@pytest.mark.parametrize(
    ("speak_result", "expected"),
    [
        ("/var/spool/asterisk/monitor/prompts/waihu-say-abc", "/var/spool/asterisk/monitor/prompts/waihu-say-abc"),
        (RuntimeError("espeak-ng failed"), "safe-harbor"),  # never silence: the site's recorded prompt
        ("not a prompt; rm -rf", "safe-harbor"),  # only a plain name or path goes into the dialplan
    ],
)
def test_a_written_message_plays_as_spoken_by_the_backends_text_to_speech(
    speak_result: str | Exception, expected: str
) -> None:
    asked: list[str] = []

    async def speak(text: str) -> str:
        asked.append(text)
        if isinstance(speak_result, Exception):
            raise speak_result
        return speak_result

    backend = AsteriskBackend(AsteriskSettings(), speak=speak)
    sent = _answered(backend, "call-1")
    text = "您好，这里是无锡移动，如有需要请致电10086。"
    asyncio.run(backend.play("call-1", text))
    asyncio.run(backend.play("call-1", "sorry&please-try-call-later"))  # prompt names play as they are
    assert asked == [text]
    assert sent == [
        {"context": "waihu-play", "WAIHU_MESSAGE": expected},
        {"context": "waihu-play", "WAIHU_MESSAGE": "sorry&please-try-call-later"},
    ]


def test_without_text_to_speech_a_written_message_plays_the_sites_prompt() -> None:
    backend = AsteriskBackend(AsteriskSettings())
    sent = _answered(backend, "call-1")
    asyncio.run(backend.play("call-1", "您好，这里是无锡移动。"))
    assert sent == [{"context": "waihu-play", "WAIHU_MESSAGE": "safe-harbor"}]


def test_a_customer_gone_while_the_message_was_spoken_is_not_redirected() -> None:
    backend: AsteriskBackend

    async def speak(text: str) -> str:
        backend._calls["call-1"].up = False  # hung up meanwhile
        return "/var/spool/asterisk/monitor/prompts/waihu-say-abc"

    backend = AsteriskBackend(AsteriskSettings(), speak=speak)
    sent = _answered(backend, "call-1")
    with pytest.raises(CallStateError):
        asyncio.run(backend.play("call-1", "您好。"))
    assert sent == []
