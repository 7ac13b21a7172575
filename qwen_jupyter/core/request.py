"""Request: what to ask, independent of the API that carries it. Backends translate it to their wire shape."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from .errors import QwenError
from .keywords import check_spelling
from .media import Media
from .messages import Message, as_message, user_message, without_media
from .models import CODE_INTERPRETER, TAKES, has_code_interpreter, model_info
from .options import FILE_PREFIX, context_free, documents_message, expand, sent_documents
from .tools import toolbox


@dataclass(frozen=True)
class Request:
    """A model, the messages to send and the generation options."""

    model: str
    messages: tuple[Message, ...]
    stream: bool = True
    thinking: bool | None = None
    thinking_budget: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    search: bool = False
    search_options: dict[str, Any] = field(default_factory=dict)  # forced_search, search_strategy, …
    json_mode: bool = False
    tools: tuple[dict[str, Any], ...] = ()
    code_interpreter: bool = False  # the service's own code interpreter (models that have it)
    logprobs: int | None = None  # token log probabilities with this many alternatives (0: none)
    prefix: str | None = None  # continue from this start (a partial assistant turn)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def has_media(self) -> bool:
        return any(m.media for m in self.messages)

    @property
    def system(self) -> str | None:
        return next((m.text for m in self.messages if m.role == "system"), None)

    def with_messages(self, messages: tuple[Message, ...]) -> Request:
        return replace(self, messages=messages)

    def with_documents(self, file_ids: tuple[str, ...] | list[str]) -> Request:
        """The request with earlier documents of its chat: one `fileid://` system message naming them and its own
        (after the ordinary system prompt), each once."""
        own = sent_documents(self.messages)
        every = tuple(dict.fromkeys((*file_ids, *own)))
        if not file_ids or every == own:
            return self
        system = [m for m in self.messages if m.role == "system" and not m.text.startswith(FILE_PREFIX)]
        rest = tuple(m for m in self.messages if m.role != "system")
        return replace(self, messages=(*system, Message("system", documents_message(every)), *rest))

    def with_history(self, history: tuple[Message, ...] | list[Message]) -> Request:
        """Earlier turns placed after the system message and before the new turn (for a text-only model their
        media become a note)."""
        if not history or context_free(self.extra):  # Qwen-MT takes the text to translate alone
            return self
        text_only = not model_info(self.model).multimodal
        earlier = tuple(without_media(m) if text_only else m for m in history if m.role != "system")
        system = tuple(m for m in self.messages if m.role == "system")
        return replace(self, messages=system + earlier + tuple(m for m in self.messages if m.role != "system"))


def build_request(
    model: str,
    prompt: str,
    *,
    media: tuple[Media, ...] | list[Media] = (),
    system: str | None = None,
    history: tuple[Message, ...] | list[Message] = (),
    **options: Any,
) -> Request:
    """A Request from a prompt: system message first, then earlier turns, then the new user turn.

    Media the model cannot take are refused here, before anything is sent, naming the models that can.
    """
    model, options = expand(model, options)  # presets, translation, OCR, logprobs (specialised/options.py)
    if context_free(options.get("extra") or {}):
        system = None
    check_inputs(model, media)
    check_options(model, media, options)
    if "ocr_options" in (options.get("extra") or {}) and not any(m.kind == "image" for m in media):
        raise QwenError("--ocr reads a picture: give it with -i PATH (image= in chat()).", code="InvalidInput",
                        hint="e.g. %qwen --ocr table_parsing -i receipt.png")
    documents = options.pop("documents", None) or ()
    messages: list[Message] = []
    if system:
        messages.append(Message("system", system))
    if documents:  # qwen-long: one system message naming every uploaded document, after the system prompt
        messages.append(Message("system", documents_message(documents)))
    messages.append(user_message(prompt, media))
    tools = toolbox(options.pop("tools", None)).specs()  # functions and schema dicts, as the wire carries them
    if options.get("search_options"):
        options["search"] = True  # asking how to search is asking to search
    known = {k: v for k, v in options.items() if k in Request.__dataclass_fields__ and v is not None}
    unknown = {k: v for k, v in options.items() if k not in Request.__dataclass_fields__ and v is not None}
    check_spelling(unknown)  # the rest go to the service as parameters: a slip of one of ours would be ignored there
    extra = {**known.pop("extra", {}), **unknown}
    request = Request(model=model, messages=tuple(messages), tools=tools, extra=extra, **known)
    return request.with_history(tuple(as_message(m) for m in history))


_SIZE = re.compile(r"\s*(\d+)\s*[*xX×]\s*(\d+)\s*")


def check_options(model: str, media: tuple[Media, ...] | list[Media], options: dict[str, Any]) -> None:
    """Options that cannot work are a clear error before anything is sent (the same for the magic and chat()):
    an image size that is not W*H, an editing model with no picture to edit, a code interpreter the model lacks.
    A valid size is written the way the service takes it (1024*768)."""
    size = options.get("size")
    if size is not None:
        found = _SIZE.fullmatch(str(size))
        if not found:
            raise QwenError(f"An image size is width*height in pixels, e.g. 1024*1024; not {size!r}.",
                            code="InvalidInput", hint="")
        options["size"] = f"{found[1]}*{found[2]}"
    info, pictures = model_info(model), any(m.kind == "image" for m in media)
    if info.image_edit and not pictures:
        raise QwenError(f"{model} edits a picture: give it with -i PATH (image= in chat()), or pick a model that "
                        "makes one from text (qwen-image-plus, wanx2.1-t2i-turbo).", code="InvalidInput", hint="")
    if info.image_task and not info.image_edit and pictures:
        raise QwenError(f"{model} makes images from text; to edit one use qwen-image-edit or wanx2.1-imageedit.",
                        code="InvalidInput", hint="")
    if options.get("code_interpreter") and has_code_interpreter(model) is False:
        raise QwenError(f"{model} has no code interpreter; it runs on {CODE_INTERPRETER}.", code="InvalidInput",
                        hint="")


def check_inputs(model: str, media: tuple[Media, ...] | list[Media]) -> None:
    """A clear error for media a model is known not to take (the same on every API, before sending)."""
    takes = model_info(model).inputs
    refused = sorted({m.kind for m in media} - takes) if takes is not None else []
    if refused:
        kind = refused[0]
        what = "text only" if not takes else " and ".join(sorted(takes)) + " input"
        raise QwenError(f"{model} takes {what}, not {kind}; for {kind} use {TAKES[kind]}.", code="InvalidInput",
                        hint="")


def generation_parameters(request: Request) -> dict[str, Any]:
    """The generation parameters Chat Completions and the native API both take as plain keys (sampling, thinking,
    search, JSON mode, tools, the code interpreter, log probabilities), then the request's extras."""
    out: dict[str, Any] = {name: getattr(request, name) for name in ("temperature", "top_p", "max_tokens", "seed")
                           if getattr(request, name) is not None}
    if request.thinking is not None:
        out["enable_thinking"] = request.thinking
    if request.thinking_budget is not None:
        out["thinking_budget"] = request.thinking_budget
    if request.search:
        out["enable_search"] = True
        out["search_options"] = search_options(request)
    if request.json_mode:
        out["response_format"] = {"type": "json_object"}
    if request.tools:
        out["tools"] = list(request.tools)
    if request.code_interpreter:
        out["enable_code_interpreter"] = True
    if request.logprobs is not None:
        out["logprobs"] = True
        if request.logprobs:
            out["top_logprobs"] = request.logprobs
    return {**out, **request.extra}


def search_options(request: Request) -> dict[str, Any]:
    """The search_options Model Studio takes (Chat Completions and native): sources on, and `[n]` citations
    that the answer's view links to them, then the person's own options."""
    return {"enable_source": True, "enable_citation": True, "citation_format": "[<number>]",
            **request.search_options}
