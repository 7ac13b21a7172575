"""Message: one turn of a conversation in neutral form (what any API carries), and the tool calls in it."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from .errors import QwenError
from .media import Media, image


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A complete call the model asked for; arguments is the JSON text as sent (not guaranteed valid)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Message:
    """One turn in neutral form: text, media parts, and for assistants the reasoning and tool calls."""

    role: str
    text: str = ""
    media: tuple[Media, ...] = ()
    reasoning: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None

    @property
    def text_part(self) -> bool:
        """Whether the wire content has a text part: a picture alone goes without an empty one (OCR's tasks and the
        VL models then use their own prompt)."""
        return bool(self.text) or not self.media

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready view (media as kind and label, never the inline data)."""
        out: dict[str, Any] = {"role": self.role, "content": self.text}
        if self.media:
            out["media"] = [{"kind": m.kind, "source": m.label} for m in self.media]
        if self.reasoning:
            out["reasoning"] = self.reasoning
        if self.tool_calls:
            out["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in self.tool_calls]
        if self.tool_call_id:
            out["tool_call_id"] = self.tool_call_id
        return out


def user_message(text: str, media: tuple[Media, ...] | list[Media] = ()) -> Message:
    """A user turn with optional media."""
    return Message("user", text, tuple(media))


def without_media(message: Message) -> Message:
    """An earlier turn for a text-only model (text models refuse content lists), or one whose pictures were not
    stored: its media become a note."""
    if not message.media:
        return message
    kinds = ", ".join(sorted({m.kind for m in message.media}))
    return replace(message, media=(), text=f"{message.text}\n[{len(message.media)} {kinds} input(s) omitted]")


def as_message(item: Any) -> Message:
    """A Message from a history item: a Message, a plain OpenAI-style message dict, or an SDK message object."""
    if isinstance(item, Message):
        return item
    if hasattr(item, "model_dump"):  # openai's pydantic messages
        item = item.model_dump(exclude_none=True)
    if not isinstance(item, dict) or not isinstance(item.get("role"), str):
        raise QwenError(f"A history item must be a message dict with a role, not {type(item).__name__}.",
                        code="InvalidInput", hint='e.g. {"role": "user", "content": "Hello"}')
    content = item.get("content")
    texts: list[str] = []
    media: list[Media] = []
    for part in content if isinstance(content, list) else [content or ""]:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict):
            if "text" in part:
                texts.append(str(part["text"]))
            picture = part.get("image_url") or part.get("image")
            if picture:
                media.append(image(picture.get("url") if isinstance(picture, dict) else picture))
    calls = []
    for call in item.get("tool_calls") or ():
        function = call.get("function") or call
        arguments = function.get("arguments") or "{}"
        calls.append(ToolCall(call.get("id") or "", function.get("name") or "",
                              arguments if isinstance(arguments, str) else json.dumps(arguments)))
    return Message(item["role"], "".join(texts), tuple(media), item.get("reasoning_content") or "", tuple(calls),
                   item.get("tool_call_id"))
