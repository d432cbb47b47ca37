"""A campaign's written safe-harbor message spoken for the PBX (espeak-ng + sox), cached by its text."""

from __future__ import annotations

import asyncio
import stat
import wave
from pathlib import Path

import pytest

from recordings.prompts import PROMPTS_SUBDIR, SpokenPrompts, message_speaker
from recordings.synth import RATE
from waihu.settings import Settings

MESSAGE = "您好，这里是无锡移动，稍后将再与您联系，如有需要请致电10086。"


def test_a_message_is_spoken_once_into_a_file_asterisk_can_read_and_named_as_asterisk_sees_it(
    tmp_path: Path,
) -> None:
    prompts = SpokenPrompts(tmp_path / "spool", "/var/spool/asterisk/monitor")

    async def twice() -> tuple[str, str]:
        first, second = await asyncio.gather(prompts.prompt(MESSAGE), prompts.prompt(MESSAGE))
        return first, second

    first, second = asyncio.run(twice())
    name = SpokenPrompts.name_of(MESSAGE)
    assert first == second == f"/var/spool/asterisk/monitor/{PROMPTS_SUBDIR}/{name}"
    spoken = tmp_path / "spool" / PROMPTS_SUBDIR / f"{name}.wav"
    assert [p.name for p in spoken.parent.iterdir()] == [spoken.name]  # one file, no partial left behind
    with wave.open(str(spoken)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        seconds = w.getnframes() / RATE
    assert 3.0 < seconds < 20.0  # a sentence with a company and a number, said at a normal pace
    # Asterisk runs as its own user: it must be able to read the file and enter the directory
    assert stat.S_IMODE(spoken.stat().st_mode) == 0o644
    assert stat.S_IMODE(spoken.parent.stat().st_mode) & 0o755 == 0o755
    # a later abandon plays the same file: it is not spoken again
    before = spoken.stat().st_mtime_ns
    assert asyncio.run(prompts.prompt(MESSAGE)) == first
    assert spoken.stat().st_mtime_ns == before
    other = asyncio.run(prompts.prompt("您好，这里是无锡移动，请致电10086。"))
    assert other != first


def test_the_speaker_follows_the_settings_and_stands_down_without_the_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on = Settings(asterisk_monitor_dir="/var/spool/asterisk/monitor", asterisk_recordings_dir=tmp_path / "host")
    speak = message_speaker(on)
    assert speak is not None
    assert asyncio.run(speak(MESSAGE)).startswith(f"/var/spool/asterisk/monitor/{PROMPTS_SUBDIR}/")
    assert (tmp_path / "host" / PROMPTS_SUBDIR / f"{SpokenPrompts.name_of(MESSAGE)}.wav").is_file()
    assert message_speaker(on.model_copy(update={"asterisk_speak_messages": False})) is None
    monkeypatch.setattr("recordings.synth.shutil.which", lambda tool: None)
    assert message_speaker(on) is None
