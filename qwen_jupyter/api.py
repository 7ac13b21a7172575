"""chat(), achat() and prepare(): the Python API; the magic and the panel ask through asking.py as chat() does."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from .core import media as media_inputs
from .core.errors import QwenError
from .core.media import Media
from .core.messages import Message
from .core.models import DEFAULT_MODEL
from .core.options import check_chosen_model, translation_alone
from .core.request import Request, build_request
from .core.result import QwenResult
from .core.settings import ANSWER_LIMIT, Settings, configured
from .core.speech import speech_options
from .core.tools import toolbox
from .engine.agent import tools as agent_tools
from .engine.approval import Confirm, approver
from .engine.asking import Asking, aask, ask, ask_in
from .engine.comparison import Comparison, compare_request, model_list
from .engine.documents import as_documents, upload_documents
from .engine.rounds import MAX_ROUNDS
from .engine.routing import route
from .state.session import Session
from .state.store import Store

__all__ = ["DEFAULT_MODEL", "achat", "ask", "chat", "collect_media", "compare", "prepare"]


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
    prompt: str = "",
    *,
    model: str | None = None,
    image: Any = None,
    video: Any = None,
    audio: Any = None,
    fps: float | None = None,
    think: bool | None = None,
    budget: int | None = None,
    system: str | None = None,
    history: Iterable[Message | dict[str, Any]] = (),
    speak: bool | str | None = None,
    modalities: list[str] | None = None,
    api: str | None = None,
    region: str | None = None,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: float | None = None,
    max_retries: int | None = None,
    offline: str | bool | None = None,
    cassette: str | None = None,
    cassette_mode: str | None = None,
    **options: Any,
) -> tuple[Request, Settings]:
    """The request and settings chat() would use, without sending anything."""
    if isinstance(audio, dict):  # the documented answer option {"voice": …, "format": …}; input audio is a file
        answer_audio, audio = audio, None
    else:
        answer_audio = None
    options.update(speech_options(speak, modalities, answer_audio))
    settings = route(api=api, region=region, base_url=base_url, api_key=api_key, timeout=timeout,
                     max_retries=max_retries, offline=offline, cassette=cassette, cassette_mode=cassette_mode)
    translation_alone(options.get("to"), options.get("file"))
    if not (prompt.strip() or image is not None or video is not None or audio is not None):
        raise QwenError("Nothing to ask: give a prompt, or a picture (image=), video or audio.",
                        code="InvalidInput", hint="")
    if options.get("file"):  # documents for qwen-long: uploaded now (once per content), sent as fileid://
        files = options.pop("file")
        options["documents"] = upload_documents(as_documents(files), settings)
    # The notebook's settings (%config QwenMagics, where the extension is loaded) fill what was not given.
    request = build_request(
        model or configured("model", DEFAULT_MODEL), prompt, media=collect_media(image, video, audio, fps),
        system=configured("system") if system is None else system, history=tuple(history),
        thinking=configured("thinking") if think is None else think,
        thinking_budget=configured("thinking_budget") if budget is None else budget, **options,
    )
    return request, settings


def chat(prompt: str = "", *, conversation: str | None = None, max_answer_chars: int | None = None,
         max_rounds: int = MAX_ROUNDS, confirm: bool | Confirm = False, agent: bool = False, yes: bool = False,
         **kwargs: Any) -> QwenResult:
    """Ask a Qwen model; returns a QwenResult that streams when iterated or displayed (nothing is sent before).

    Keyword arguments: model, image, video, audio, fps, think, budget, system, history (Messages or OpenAI-style
    message dicts), api, region, base_url, api_key, timeout, max_retries, offline (on or True, off or False,
    auto: the emulator when no key is set), stream, temperature, top_p, max_tokens, seed, search, json_mode, max_answer_chars (a
    runaway stream is stopped past it), and any other Model Studio parameter.

    Image models (wanx…, wan2.x-t2i…, qwen-image…; editing: qwen-image-edit, wanx2.1-imageedit with image=) take
    size ("1024*1024"), n, seed, negative_prompt and prompt_extend; result.images holds PIL images and
    result.save_images(folder) writes them. Omni models speak with speak=True or speak="VOICE" (or the
    documented modalities=["text", "audio"], audio={"voice": "Cherry", "format": "wav"}); result.audio has it.

    tools: Python functions (their schema comes from type hints and the docstring; the toolkit runs the calls
    and sends the results back until the model answers, at most `max_rounds` rounds; `confirm=True` asks before
    each call, or pass a function (name, arguments JSON) -> bool) or schema dicts (their calls are returned in
    result.tool_calls for you to answer). `agent=True` offers the notebook agent's tools too (run_python, which
    asks before every run, showing the code, and list_variables, describe, last_error, which read only), working
    on this kernel's variables (in a script, the script's); `yes=True` approves every call (for runs you trust).
    `mcp="calc,docs"` (or a list) offers the tools of the notebook's MCP servers (QwenMagics.mcp_servers; in a
    script, mcp={"calc": {"command": ["python", "calc.py"]}} names them in place), mcp_prefix=True as calc_tool.
    `conversation="NAME"` asks in this notebook's chat NAME (the one
    `%%qwen -c NAME` continues) and records the answer there, each call its own turn; the documents asked about
    earlier in it go with a later call to a model that reads them (model="qwen-long").

    Specialised: logprobs=K (result.logprobs, result.logprobs_frame()); prefix="start" (the answer continues
    it); preset="creative"|"code"|"factual"|"translation" or {"temperature": …, "top_p": …}; to="English"
    with source=, terms={src: dst}, memory={src: dst}, domains="…" (Qwen-MT); ocr="table_parsing" and other
    built-in tasks, with ocr_schema={…} for key_information_extraction (result.ocr); file=PATH or a list
    (qwen-long documents, uploaded now, once per content); model="qwen-deep-research" (two turns: a
    clarifying question, then the research; result.research). qwen_jupyter.compare() asks several models.
    """
    how = _asking(kwargs, max_rounds, confirm, agent, yes, max_answer_chars)
    _check_chosen(kwargs)
    request, settings = prepare(prompt, **kwargs)
    if conversation is None:
        return ask(request, settings, how=how)
    key = f"chat:{uuid.uuid4().hex}"
    return ask_in(current_session(), conversation, key, request, settings, how=how)


def _asking(kwargs: dict[str, Any], max_rounds: int = MAX_ROUNDS, confirm: bool | Confirm = False,
            agent: bool = False, yes: bool = False, max_answer_chars: int | None = None) -> Asking:
    """How the tools named in kwargs run: the agent's and the MCP servers' joined to tools= (kwargs["tools"] then
    holds them all, for the request), who approves, and the answer's limit."""
    tools = [*(agent_tools(_kernel()) if agent else ()), *(kwargs.get("tools") or ())]
    mcp, prefix = kwargs.pop("mcp", None), kwargs.pop("mcp_prefix", False)
    if mcp:
        from .engine import notebook_mcp  # the MCP client loads with the first server

        tools += notebook_mcp.tools(mcp, prefix=prefix)
    elif prefix:
        raise QwenError("mcp_prefix names the tools of the mcp= servers: give mcp= too.", code="InvalidOption",
                        hint="")
    kwargs["tools"] = tools
    return Asking(toolbox(tools) or None, max_rounds, approver(confirm, yes), confirm_all=bool(confirm),
                  max_answer_chars=configured("max_answer_chars", ANSWER_LIMIT) if max_answer_chars is None
                  else max_answer_chars)


def _check_chosen(options: dict[str, Any]) -> None:
    """model= that cannot do what the other options ask is an error (compare() checks its models itself)."""
    check_chosen_model(options.get("model"), options.get("to"), options.get("ocr"), options.get("file"))


async def achat(prompt: str = "", **kwargs: Any) -> QwenResult:
    """The async form of chat(): awaits the whole answer and returns the finished result; an answer that failed
    raises its QwenError (the result on it as `.result`), as chat()'s wait() does.

    With Python functions as tools, the rounds run as chat() runs them, in a worker thread (so are the calls)."""
    if kwargs.get("agent") or kwargs.get("mcp") or any(callable(tool) for tool in kwargs.get("tools") or ()):
        return await asyncio.to_thread(lambda: chat(prompt, **kwargs).wait())
    limit = kwargs.pop("max_answer_chars", None)
    limit = configured("max_answer_chars", ANSWER_LIMIT) if limit is None else limit
    _check_chosen(kwargs)
    request, settings = prepare(prompt, **kwargs)
    return (await aask(request, settings, limit)).wait()


def compare(prompt: str, models: str | list[str], **kwargs: Any) -> Comparison:
    """Ask several models the same prompt at once (chat()'s keyword arguments); shown side by side."""
    names = model_list(models)
    how = _asking(kwargs, kwargs.pop("max_rounds", MAX_ROUNDS), kwargs.pop("confirm", False),
                  kwargs.pop("agent", False), kwargs.pop("yes", False), kwargs.pop("max_answer_chars", None))
    request, settings = prepare(prompt, model=names[0], **kwargs)
    return compare_request(request, settings, names, how=how)


_script_session: Session | None = None


def current_session() -> Session:
    """This notebook's session (the one %%qwen uses, loading the extension if needed), or in a plain Python
    process one session per working directory."""
    global _script_session
    try:
        from IPython import get_ipython
    except ImportError:
        shell = None
    else:
        shell = get_ipython()
    if shell is not None and hasattr(shell, "magics_manager"):
        from .magic.kernel import magics

        return magics(shell).session
    if _script_session is None:
        _script_session = Session("python:" + os.getcwd(), Store())
    return _script_session


def _kernel() -> Any:
    """What the agent works on: this IPython's kernel, or in a plain script the script's own variables."""
    try:
        from IPython import get_ipython
    except ImportError:
        shell = None
    else:
        shell = get_ipython()
    if shell is not None:
        return shell
    import __main__

    return SimpleNamespace(user_ns=vars(__main__), user_ns_hidden={})
