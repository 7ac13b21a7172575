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
from .result import ANSWER_LIMIT, QwenResult
from .settings import Secret, Settings, settings_from_env, warn_plain_http

DEFAULT_MODEL = "qwen-plus"
OFFLINE_ENV = "QWEN_JUPYTER_OFFLINE"
OFFLINE_MODES = ("on", "off", "auto")
CASSETTE_ENV, CASSETTE_MODE_ENV = "QWEN_JUPYTER_CASSETTE", "QWEN_JUPYTER_CASSETTE_MODE"
CASSETTE_MODES = ("auto", "record", "replay", "lenient", "off")


def offline_mode(mode: str | None = None) -> str:
    """on, off or auto: the argument, else QWEN_JUPYTER_OFFLINE, else auto."""
    mode = mode or os.environ.get(OFFLINE_ENV) or "auto"
    if mode not in OFFLINE_MODES:
        raise QwenError(f"Offline mode must be on, off or auto; got {mode!r}.", code="InvalidOption")
    return mode


def connect(settings: Settings, offline: str | None = None, cassette: str | None = None,
            cassette_mode: str | None = None) -> Settings:
    """The settings to use: live, the built-in emulator, a cassette's replay, or live through a recorder.

    Offline `on`, or `auto` with no key or base_url, sends requests to the emulator. A cassette then answers them
    (`auto` and `replay`: strict; `lenient`: generated replies where it has none); `record` passes the requests
    to wherever they would have gone and saves the answers; `off` ignores the cassette.
    """
    from . import emulator
    from .emulator.cassette import CassetteError

    mode = offline_mode(offline)
    cassette = cassette or os.environ.get(CASSETTE_ENV) or None
    cassette_mode = cassette_mode or os.environ.get(CASSETTE_MODE_ENV) or "auto"
    if cassette_mode not in CASSETTE_MODES:
        raise QwenError(f"Cassette mode must be one of {', '.join(CASSETTE_MODES)}; got {cassette_mode!r}.",
                        code="InvalidOption")
    emulated = mode == "on" or (mode == "auto" and settings.api_key is None and settings.base_url is None)
    if cassette and (cassette_mode in ("replay", "lenient") or (cassette_mode == "auto" and emulated)):
        try:
            server = emulator.replayer(cassette, lenient=cassette_mode == "lenient")
        except CassetteError as exc:
            raise QwenError(str(exc), code="BadCassette", hint="") from None
        return replace(settings, base_url=server.url, api_key=Secret(emulator.DEFAULT_KEY))
    if emulated:
        settings = replace(settings, base_url=emulator.shared().url, api_key=Secret(emulator.DEFAULT_KEY))
    if cassette and cassette_mode == "record":
        if settings.api_key:
            warn_plain_http(settings.host)  # the proxy forwards the key there
        proxy = emulator.recording_proxy(cassette, settings.host)
        settings = replace(settings, base_url=proxy.url)
    return settings


def ask(
    request: Request, settings: Settings, on_complete: Callable[[QwenResult], None] | None = None,
    max_answer_chars: int = ANSWER_LIMIT,
) -> QwenResult:
    """Send a built request; the result streams as it is iterated or read."""
    return QwenResult(
        stream_events(request, settings), messages=request.messages, model=request.model, api=settings.api,
        on_complete=on_complete, max_answer_chars=max_answer_chars,
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
    cassette: str | None = None,
    cassette_mode: str | None = None,
    **options: Any,
) -> tuple[Request, Settings]:
    """The request and settings chat() would use, without sending anything."""
    settings = connect(settings_from_env(
        api=api, region=region, base_url=base_url, api_key=api_key, timeout=timeout, max_retries=max_retries
    ), offline, cassette, cassette_mode)
    request = build_request(
        model or DEFAULT_MODEL, prompt, media=collect_media(image, video, audio, fps), system=system,
        history=tuple(history), thinking=think, thinking_budget=budget, **options,
    )
    return request, settings


def chat(prompt: str, **kwargs: Any) -> QwenResult:
    """Ask a Qwen model; returns a QwenResult that streams when iterated or displayed.

    Keyword arguments: model, image, video, audio, fps, think, budget, system, history, api, region, base_url,
    api_key, timeout, max_retries, offline (on, off, auto: the emulator when no key is set), stream,
    temperature, top_p, max_tokens, seed, search, json_mode, tools, max_answer_chars (a runaway stream is
    stopped past it), and any other Model Studio parameter.
    """
    limit = kwargs.pop("max_answer_chars", ANSWER_LIMIT)
    request, settings = prepare(prompt, **kwargs)
    return ask(request, settings, max_answer_chars=limit)


async def achat(prompt: str, **kwargs: Any) -> QwenResult:
    """The async form of chat(): awaits the whole answer and returns the finished result."""
    limit = kwargs.pop("max_answer_chars", ANSWER_LIMIT)
    request, settings = prepare(prompt, **kwargs)
    return await QwenResult.gather(
        astream_events(request, settings), messages=request.messages, model=request.model, api=settings.api,
        max_answer_chars=limit,
    )
