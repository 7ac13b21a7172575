"""Generated images and spoken answers as outputs of their own: a PNG each (image/png, base64 of the PNG the
backend wrote), and an audio player whose only source is our own WAV as a data: URL (no script, no fetch).

A saved notebook keeps both inline, so the pictures and the sound outlive the service's day-long links.
"""

from __future__ import annotations

import base64
import functools
import re
from typing import Any

import nh3

from ..core.events import Image, TaskProgress
from ..core.text import printable
from .html import ROOT_CLASS

_AUDIO_DATA = re.compile(r"data:audio/wav;base64,[A-Za-z0-9+/=]+\Z")
_IMAGE_DATA = re.compile(r"data:image/png;base64,[A-Za-z0-9+/=]+\Z")


def progress_note(event: TaskProgress) -> str:
    """The line shown while an image task is waited for."""
    return printable(f"Image task {event.task_id[:8]}… {event.status} · {event.seconds:.0f} s "
                 "(interrupt to cancel it)")


def _pngs(result: Any) -> list[bytes]:
    return [event.png for event in result.events if isinstance(event, Image) and event.png]


def image_bundles(result: Any) -> list[dict[str, str]]:
    """One image/png output per generated image."""
    pngs = _pngs(result)
    return [{"image/png": base64.b64encode(png).decode(), "text/plain": f"<image {n} of {len(pngs)}>"}
            for n, png in enumerate(pngs, 1)]


@functools.lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    def keep(tag: str, attribute: str, value: str) -> str | None:
        if attribute == "src":
            return value if (tag == "audio" and _AUDIO_DATA.match(value)) or (
                tag == "img" and _IMAGE_DATA.match(value)) else None
        return value

    return nh3.Cleaner(tags={"div", "audio", "img", "span"}, attributes={
        "audio": {"controls", "src"}, "img": {"src", "alt", "style"}, "*": {"class", "style"}},
        url_schemes={"data"}, url_relative="deny", attribute_filter=keep, strip_comments=True)


def audio_html(wav: bytes) -> str:
    """An audio player for our own WAV bytes."""
    source = "data:audio/wav;base64," + base64.b64encode(wav).decode()
    return _cleaner().clean(f'<div class="qwen-audio {ROOT_CLASS}"><audio controls src="{source}"></audio></div>')


def audio_bundle(result: Any) -> dict[str, str] | None:
    """The spoken answer's player as an output (None without speech)."""
    speech = result.audio
    if speech is None:
        return None
    return {"text/html": audio_html(speech.wav), "text/plain": f"<speech: {speech.seconds:.1f} s, result.audio>"}


def media_bundles(result: Any) -> list[dict[str, str]]:
    """The outputs that follow a result's final output: its images, then its speech."""
    audio = audio_bundle(result)
    return image_bundles(result) + ([audio] if audio else [])


def images_html(result: Any, height: int = 256) -> str:
    """The generated images as inline PNG data (for HTML-only views such as the panel)."""
    tags = "".join(f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" alt="generated image {n}" '
                   f'style="max-height:{height}px;max-width:100%;margin:.2em">'
                   for n, png in enumerate(_pngs(result), 1))
    return _cleaner().clean(f'<div class="qwen-images {ROOT_CLASS}">{tags}</div>') if tags else ""


def speech_html(speech: Any) -> str:
    """A spoken answer (core.speech.Speech) as IPython shows it: our own audio player over its WAV."""
    return audio_html(speech.wav)
