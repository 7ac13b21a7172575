"""chat() and ask(): the one entry point that the magic, the panel and plain Python share."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from . import media as media_inputs
from .backends import astream_events, stream_events
from .errors import QwenError
from .media import Media
from .request import Message, Request, build_request
from .result import QwenResult
from .settings import Secret, Settings, settings_from_env

DEFAULT_MODEL = "qwen-plus"
OFFLINE_ENV = "QWEN_JUPYTER_OFFLINE"
OFFLINE_MODES = ("on", "off", "auto")


def offline_mode(mode: str | None = None) -> str:
    """on, off or auto: the argument, else QWEN_JUPYTER_OFFLINE, else auto."""
    mode = mode or os.environ.get(OFFLINE_ENV) or "auto"
    if mode not in OFFLINE_MODES:
        raise QwenError(f"Offline mode must be on, off or auto; got {mode!r}.", code="InvalidOption")
    return mode


def connect(settings: Settings, offline: str | None = None) -> Settings:
    """The settings to use: the built-in emulator when offline is on, or auto and no key or base_url is set."""
    mode = offline_mode(offline)
    no_target = settings.api_key is None and settings.base_url is None
    if mode == "on" or (mode == "auto" and no_target):
        from .emulator import DEFAULT_KEY, shared

        return replace(settings, base_url=shared().url, api_key=Secret(DEFAULT_KEY))
    return settings


def ask(
    request: Request, settings: Settings, on_complete: Callable[[QwenResult], None] | None = None
) -> QwenResult:
    """Send a built request; the result streams as it is iterated or read."""
    return QwenResult(
        stream_events(request, settings), messages=request.messages, model=request.model, api=settings.api,
        on_complete=on_complete,
    )


def collect_media(image: Any = None, video: Any = None, audio: Any = None, fps: float | None = None) -> list[Media]:
    """Media parts from chat()'s image/video/audio arguments (each one item or a list)."""
    parts: list[Media] = []
    for item in _as_list(image):
        parts.append(media_inputs.image(item))
    for item in _as_list(video, frames_ok=True):
        parts.append(media_inputs.video(item, fps=fps))
    for item in _as_list(audio):
        parts.append(media_inputs.audio(item))
    return parts


def _as_list(value: Any, frames_ok: bool = False) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        # For video, a list of frames is one video; a list of lists is several.
        if frames_ok and value and not isinstance(value[0], (list, tuple)):
            return [list(value)]
        return list(value)
    return [value]


def prepare(
    prompt: str,
    *,
    model: str | None = None,
    image: Any = None,
    video: Any = None,
    audio: Any = None,
    fps: float | None = None,
    think: bool | None = None,
    budget: int | None = None,
    system: str | None = None,
    history: Iterable[Message] = (),
    api: str | None = None,
    region: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    offline: str | None = None,
    **options: Any,
) -> tuple[Request, Settings]:
    """The request and settings chat() would use, without sending anything."""
    settings = connect(settings_from_env(
        api=api, region=region, base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
    ), offline)
    request = build_request(
        model or DEFAULT_MODEL, prompt, media=collect_media(image, video, audio, fps), system=system,
        history=tuple(history), thinking=think, thinking_budget=budget, **options,
    )
    return request, settings


def chat(prompt: str, **kwargs: Any) -> QwenResult:
    """Ask a Qwen model; returns a QwenResult that streams when iterated or displayed.

    Keyword arguments: model, image, video, audio, fps, think, budget, system, history, api, region, base_url,
    api_key, timeout, max_retries, offline (on, off, auto: the emulator when no key is set), stream,
    temperature, top_p, max_tokens, seed, search, json_mode, tools, and any other Model Studio parameter.
    """
    request, settings = prepare(prompt, **kwargs)
    return ask(request, settings)


async def achat(prompt: str, **kwargs: Any) -> QwenResult:
    """The async form of chat(): awaits the whole answer and returns the finished result."""
    request, settings = prepare(prompt, **kwargs)
    return await QwenResult.gather(
        astream_events(request, settings), messages=request.messages, model=request.model, api=settings.api
    )
