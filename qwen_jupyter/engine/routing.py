"""Where a request goes, decided here and nowhere else: the key, region and base_url, then offline mode and
cassettes, from what the caller set and (for anything unset) the environment, read once per request.

The outcome is one Settings: live to Model Studio, the built-in emulator, a cassette's replay, or live through a
recorder. Offline `on`, or `auto` with no key and no base_url, answers from the emulator; a cassette then answers
in `auto`, `replay` (strict) and `lenient` modes; `record` saves whatever the request would have reached.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..core.errors import QwenError
from ..core.models import api_for
from ..core.options import api_needed, sent_documents
from ..core.settings import Secret, Settings, configured, warn_plain_http
from ..core.speech import wants_speech

if TYPE_CHECKING:
    from ..core.request import Request

KEY_ENV = "DASHSCOPE_API_KEY"
BASE_URL_ENV = "QWEN_JUPYTER_BASE_URL"
OFFLINE_ENV = "QWEN_JUPYTER_OFFLINE"
CASSETTE_ENV, CASSETTE_MODE_ENV = "QWEN_JUPYTER_CASSETTE", "QWEN_JUPYTER_CASSETTE_MODE"
OFFLINE_MODES = ("on", "off", "auto")
CASSETTE_MODES = ("auto", "record", "replay", "lenient", "off")


# The offline switch is on or off however people write it (QWEN_JUPYTER_OFFLINE=1, offline=True, %qwen offline yes).
SWITCH_WORDS = {"1": "on", "true": "on", "yes": "on", "0": "off", "false": "off", "no": "off"}
OFFLINE_WORDS = "on, off or auto (1, true, yes; 0, false, no)"


def offline_mode(value: str | bool) -> str | None:
    """on, off or auto from any way of writing them; None for anything else."""
    word = str(value).strip().lower()
    word = SWITCH_WORDS.get(word, word)
    return word if word in OFFLINE_MODES else None


def _choice(value: str | bool | None, env: str, what: str, default: str, read: Callable[[Any], str | None],
            allowed: str) -> str:
    absent = value is None or value == ""
    given = (os.environ.get(env) or default) if absent else value
    chosen = read(given)
    if chosen is None:
        where = f" (from the environment variable {env})" if absent else ""
        raise QwenError(f"{what} must be {allowed}; got {given!r}{where}.", code="InvalidOption")
    return chosen


def route(*, api: str | None = None, region: str | None = None, base_url: str | None = None,
          workspace: str | None = None, api_key: str | None = None, timeout: float | None = None,
          max_retries: int | None = None, offline: str | bool | None = None, cassette: str | None = None,
          cassette_mode: str | None = None) -> Settings:
    """The Settings for one request; None means: the notebook's setting (%config QwenMagics, where the extension
    is loaded), else the environment, else the default."""
    given = {"api": api, "region": region, "base_url": base_url, "workspace": workspace, "api_key": api_key,
             "timeout": timeout, "max_retries": max_retries, "offline": offline, "cassette": cassette,
             "cassette_mode": cassette_mode}
    chosen = {name: configured(name) if value is None or value == "" else value for name, value in given.items()}
    chosen["base_url"] = chosen["base_url"] or os.environ.get(BASE_URL_ENV) or None
    key = chosen.pop("api_key") or os.environ.get(KEY_ENV) or None
    chosen["api_key"] = Secret(key) if key is not None else None
    offline, cassette, cassette_mode = (chosen.pop(name) for name in ("offline", "cassette", "cassette_mode"))
    settings = Settings(**{k: v for k, v in chosen.items() if v is not None})  # type: ignore[arg-type]
    mode = _choice(offline, OFFLINE_ENV, "Offline mode", "auto", offline_mode, OFFLINE_WORDS)
    cassette = cassette or os.environ.get(CASSETTE_ENV) or None
    cassette_mode = _choice(cassette_mode, CASSETTE_MODE_ENV, "Cassette mode", "auto",
                            lambda word: word if word in CASSETTE_MODES else None, "one of " + ", ".join(CASSETTE_MODES))
    emulated = mode == "on" or (mode == "auto" and settings.api_key is None and settings.base_url is None)
    return _routed(settings, emulated, cassette, cassette_mode)


def _routed(settings: Settings, emulated: bool, cassette: str | None, cassette_mode: str) -> Settings:
    if not (emulated or cassette):  # live, straight to the host: the emulator (aiohttp) is not even imported
        return settings
    from .. import emulator
    from ..emulator.cassette import CassetteError

    if cassette and (cassette_mode in ("replay", "lenient") or (cassette_mode == "auto" and emulated)):
        try:
            server = emulator.replayer(cassette, lenient=cassette_mode == "lenient")
        except CassetteError as exc:
            raise QwenError(str(exc), code="BadCassette", hint="") from None
        return replace(settings, base_url=server.url, api_key=Secret(emulator.DEFAULT_KEY), route="replay")
    if emulated:
        settings = replace(settings, base_url=emulator.shared().url, api_key=Secret(emulator.DEFAULT_KEY),
                           route="emulator")
    if cassette and cassette_mode == "record":
        if settings.api_key:
            warn_plain_http(settings.host)  # the proxy forwards the key there
        try:
            proxy = emulator.recording_proxy(cassette, settings.host)
        except OSError as exc:  # a folder that does not exist, a file that cannot be written
            raise QwenError(f"Cannot record into {cassette}: {exc.strerror or exc}.", code="BadCassette",
                            hint="Give a path in a folder that exists (%qwen record PATH).") from None
        settings = replace(settings, base_url=proxy.url, route=f"recorded, {settings.route}")
    return settings


def for_request(settings: Settings, request: Request) -> Settings:
    """The settings with the API the request needs whatever `api` says (images: the native API; a spoken
    answer: Chat Completions)."""
    documents = bool(sent_documents(request.messages))
    api = api_for(request.model, api_needed(request.model, request.extra, documents, settings.api),
                  wants_speech(request.extra))
    return settings if api == settings.api else replace(settings, api=api)
