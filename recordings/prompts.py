"""Spoken prompts for the PBX: a campaign's written safe-harbor message, said by espeak-ng's Mandarin voice.

On Asterisk the abandoned customer must hear the campaign's own words (the company and the call-back number,
issue 4 item 7), not only the site's recorded prompt. :class:`SpokenPrompts` turns a text into an 8 kHz mono
16-bit WAV (the format Asterisk plays without transcoding) in a ``prompts`` directory beside the recordings
Asterisk writes, and answers the path Asterisk plays it from (no extension: ``Playback`` picks the format).

Files are named by the SHA-256 of the text, so each message is spoken once and a campaign's later abandons
play the cached file. The text is the campaign's message (a company name and a service number), never a
customer's data, so the files are readable by Asterisk's user (0644; the directory 0755), which is not the
service user. A file appears under its name only once complete (written aside, then renamed).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import posixpath
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from recordings.synth import SpokenLine, synthesize, tools_missing
from waihu.settings import Settings

__all__ = ["PROMPTS_SUBDIR", "SpokenPrompts", "message_speaker"]

log = logging.getLogger(__name__)

#: the prompts' directory inside the directory Asterisk records into
PROMPTS_SUBDIR: Final = "prompts"
#: silence after the message, so the line does not drop on the last syllable
TAIL_SECONDS: Final = 0.5
_NAME_PREFIX: Final = "waihu-say-"


class SpokenPrompts:
    """Speaks texts into ``host_dir/prompts`` (this machine's path of Asterisk's recordings directory) and
    names them as Asterisk sees them (``asterisk_dir/prompts/<name>``, the same directory inside a chroot)."""

    def __init__(self, host_dir: Path, asterisk_dir: str) -> None:
        self.dir = host_dir / PROMPTS_SUBDIR
        self.asterisk_dir = posixpath.join(asterisk_dir, PROMPTS_SUBDIR)
        self._locks: dict[str, asyncio.Lock] = {}

    @staticmethod
    def name_of(text: str) -> str:
        return _NAME_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]

    def file_of(self, text: str) -> Path:
        """Where the spoken ``text`` is (or will be) on this machine."""
        return self.dir / f"{self.name_of(text)}.wav"

    async def prompt(self, text: str) -> str:
        """The prompt Asterisk plays for ``text`` (spoken now if it is new); raises
        :class:`~recordings.synth.SynthError` when espeak-ng or sox is missing or fails."""
        name = self.name_of(text)
        target = self.dir / f"{name}.wav"
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            if not target.exists():
                await asyncio.to_thread(self._make_dir)
                partial = self.dir / f".{name}.{os.getpid()}.partial.wav"
                try:
                    await synthesize([SpokenLine(0.0, "agent", text)], partial, tail_seconds=TAIL_SECONDS)
                    await asyncio.to_thread(_publish, partial, target)
                finally:
                    partial.unlink(missing_ok=True)
        return posixpath.join(self.asterisk_dir, name)

    def _make_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755 | (self.dir.stat().st_mode & 0o2000))  # keep a setgid bit the parent passed on


def _publish(partial: Path, target: Path) -> None:
    partial.chmod(0o644)
    partial.replace(target)


def message_speaker(
    settings: Settings, *, host_dir: Path | None = None, asterisk_dir: str | None = None
) -> Callable[[str], Awaitable[str]] | None:
    """The Asterisk backend's ``speak``: None when the site turned it off (``asterisk_speak_messages``) or the
    tools are missing (then the site's recorded prompt plays, and the log says why once here).

    ``asterisk_dir``: Asterisk's recordings directory as Asterisk sees it (default ``asterisk_monitor_dir``);
    ``host_dir``: the same as this machine sees it (default ``asterisk_recordings_dir``, else the same path).
    """
    if not settings.asterisk_speak_messages:
        return None
    missing = tools_missing()
    if missing:
        log.warning(
            "%s not installed: abandoned customers hear the site's recorded prompt, not the campaign's message"
            " (apt-get install espeak-ng sox)",
            ", ".join(missing),
        )
        return None
    inside = asterisk_dir or settings.asterisk_monitor_dir
    here = host_dir or settings.asterisk_recordings_dir or Path(inside)
    return SpokenPrompts(here, inside).prompt
