"""Deterministic replies: the documented examples where a prompt matches, else text generated from the prompt.

Every API handler normalizes its wire body into a Conversation, asks plan() for a Reply, and writes the Reply in
its own format, so all three APIs answer the same question the same way.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from . import calls, fixes
from .schemas import instance, schema_in

# Answers quoted in Model Studio's documentation, so examples from the docs reproduce them.
DOCUMENTED = {
    "你是谁？": "我是通义千问，由阿里云开发的AI助手。我被设计用来回答各种问题、提供信息和与用户进行对话。有什么我可以帮助你的吗？",
    "你是谁": "我是通义千问，由阿里云开发的AI助手。我被设计用来回答各种问题、提供信息和与用户进行对话。有什么我可以帮助你的吗？",
    "who are you?": "I am a large language model created by Alibaba Cloud. I am called Qwen.",
    "who are you": "I am a large language model created by Alibaba Cloud. I am called Qwen.",
}


@dataclass
class Turn:
    role: str
    text: str
    images: int = 0
    videos: int = 0
    audios: int = 0
    tool_call_id: str | None = None


@dataclass
class Conversation:
    """What any of the three APIs asked, in one shape."""

    model: str
    turns: list[Turn]
    thinking: bool = False
    thinking_budget: int | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    search: bool = False
    json_mode: bool = False
    max_tokens: int | None = None
    code_interpreter: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # the specialised ones (emulator/specialised.py)


@dataclass
class Reply:
    text: str
    reasoning: str = ""
    tool_calls: list[tuple[str, str, str]] = field(default_factory=list)  # (id, name, arguments JSON)
    search_results: list[dict[str, Any]] = field(default_factory=list)
    code: str = ""  # what the code interpreter ran, and printed
    code_output: str = ""
    input_tokens: int = 0
    finish_reason: str = "stop"
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. an OCR task's ocr_result (emulator/specialised.py)

    @property
    def reasoning_tokens(self) -> int:
        return count_tokens(self.reasoning)

    @property
    def output_tokens(self) -> int:
        calls = sum(count_tokens(args) for _, _, args in self.tool_calls)
        return count_tokens(self.text) + self.reasoning_tokens + calls

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def count_tokens(text: str) -> int:
    """A stable stand-in for a tokenizer: about four characters a token."""
    return math.ceil(len(text) / 4) if text else 0


def pieces(text: str, size: int | None) -> list[str]:
    """Split text into stream chunks: fixed-size when asked, else word by word (keeping the spaces)."""
    if not text:
        return []
    if size:
        return [text[i:i + size] for i in range(0, len(text), size)]
    out, start = [], 0
    for i, char in enumerate(text):
        if char in " \n" and i + 1 - start >= 3:
            out.append(text[start:i + 1])
            start = i + 1
    if start < len(text):
        out.append(text[start:])
    return out


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _quote(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _filler(length: int, seed: str) -> str:
    sentences = [
        "The emulator streams this text so that long answers can be tested offline.",
        "Each sentence is chosen from a fixed list, so the same request always gets the same answer.",
        "Markdown, math and code render in the notebook exactly as they would for a real model.",
        "Nothing here came from Model Studio; it is generated locally on 127.0.0.1.",
    ]
    start = int(_digest(seed)[:4], 16)
    out: list[str] = []
    size = 0
    i = 0
    while size < length:
        sentence = sentences[(start + i) % len(sentences)]
        paragraph_break = "\n\n" if i % 5 == 4 else " "
        out.append(sentence + paragraph_break)
        size += len(sentence) + len(paragraph_break)
        i += 1
    return "".join(out)[:length]


def _json_answer(conversation: Conversation, prompt: str) -> str:
    """JSON mode: an object matching the schema the messages carry (enum values vary with the prompt), else a
    small object quoting the prompt."""
    schema = schema_in([t.text for t in conversation.turns])
    if schema is not None:
        return json.dumps(instance(schema, prompt, vary=True), ensure_ascii=False)
    return json.dumps({"answer": _quote(prompt), "emulated": True, "model": conversation.model}, ensure_ascii=False)


def _tool_spec(tool: dict[str, Any]) -> dict[str, Any]:
    return tool.get("function") or tool  # Chat Completions nests it, Responses is flat


def _since_user(turns: list[Turn]) -> list[Turn]:
    """The turns after the last user message (a tool round's calls and results)."""
    last_user = max((i for i, t in enumerate(turns) if t.role == "user"), default=-1)
    return turns[last_user + 1:]


def _tool_calls(conversation: Conversation, tool_loop: bool) -> list[tuple[str, str, str]]:
    """The calls to make now: the tools the question names or describes (calls.py), all at once ("a and b"), one
    a round in order ("a then b"); none after the results are in (unless the loop fault asks for more)."""
    functions = [_tool_spec(t) for t in conversation.tools if _tool_spec(t).get("name")]
    if not functions:
        return []
    user = next((t.text for t in reversed(conversation.turns) if t.role == "user"), "")
    rounds = sum(1 for t in _since_user(conversation.turns) if t.role == "tool")
    planned = calls.choose(functions, user)
    if tool_loop:
        chosen = (planned or [(functions[0], user)])[:1]
    elif " then " in user and len(planned) > 1:
        chosen = planned[rounds:rounds + 1]
    elif rounds:
        chosen = []
    else:
        chosen = planned
    return [("call_" + _digest(conversation.model, user, tool["name"], str(rounds))[:22], tool["name"],
             json.dumps(calls.arguments(tool, clause, user), ensure_ascii=False)) for tool, clause in chosen]


def plan(conversation: Conversation, long: int | None = None, tool_loop: bool = False) -> Reply:
    """The reply to a conversation: deterministic, thinking when asked, tool calls when tools are offered."""
    turns = conversation.turns
    last = turns[-1]
    prompt = last.text
    input_tokens = sum(count_tokens(t.text) + 258 * t.images + 1000 * t.videos + 100 * t.audios for t in turns)
    model = conversation.model
    reply = Reply(text="", input_tokens=max(1, input_tokens))

    calls = _tool_calls(conversation, tool_loop)
    if calls:
        reply.tool_calls = calls
        reply.finish_reason = "tool_calls"
    elif last.role == "tool":
        results = [t.text for t in _since_user(turns) if t.role == "tool"]
        said = "; ".join(_quote(r, 200) for r in results)
        reply.text = f"[emulated {model}] The tool{'s' if len(results) > 1 else ''} returned: {said}"
    elif conversation.json_mode:
        reply.text = _json_answer(conversation, prompt)
    elif prompt.strip().lower() in DOCUMENTED:
        reply.text = DOCUMENTED[prompt.strip().lower()]
    else:
        reply.text = fixes.fix(prompt, model) or _generated(conversation, prompt)
    if long:
        reply.text = _filler(long, prompt)

    if conversation.thinking:
        reasoning = (
            f"Okay, the user asks: \"{_quote(prompt)}\". Let me think about how to answer. "
            "First, I restate the question. Then I check what I know. Finally, I write a short, clear answer."
        )
        if conversation.thinking_budget:
            reasoning = reasoning[: conversation.thinking_budget * 4]
        reply.reasoning = reasoning
    if conversation.code_interpreter and not reply.tool_calls:
        numbers = [int(n) for n in re.findall(r"\d+", prompt)][:6] or [1, 2, 3]
        reply.code = f"numbers = {numbers}\nprint(sum(numbers))"
        reply.code_output = f"{sum(numbers)}\n"
        reply.text = f"[emulated {model}] I ran the code: the sum is {sum(numbers)}."
    if conversation.search:
        reply.search_results = [
            {"index": i, "title": f"Emulated source {i} about {_quote(prompt, 40)}",
             "url": f"https://example.com/emulated/{i}", "site_name": "example.com",
             "icon": "https://example.com/favicon.ico"}
            for i in (1, 2, 3)
        ]
        if reply.text and not long:
            reply.text += " [1][2]"
    if conversation.max_tokens and count_tokens(reply.text) > conversation.max_tokens:
        reply.text = reply.text[: conversation.max_tokens * 4]
        reply.finish_reason = "length"
    return reply


def echo(reply: Reply, conversation: Conversation) -> None:
    """The `echo` fault: every text the model controls is the prompt, verbatim (for tests of hostile output)."""
    prompt = conversation.turns[-1].text
    reply.text = prompt if not reply.tool_calls else ""
    if conversation.thinking:
        reply.reasoning = prompt
    reply.tool_calls = [(call_id, prompt, json.dumps({"text": prompt})) for call_id, _, _ in reply.tool_calls]
    for source in reply.search_results:
        source["title"] = prompt


def _generated(conversation: Conversation, prompt: str) -> str:
    turns = conversation.turns
    earlier = sum(1 for t in turns[:-1] if t.role in ("user", "assistant"))
    system = next((t.text for t in turns if t.role == "system"), None)
    lines = [f"**[emulated {conversation.model}]** You asked: \"{_quote(prompt)}\""]
    media = [(turns[-1].images, "image"), (turns[-1].videos, "video"), (turns[-1].audios, "audio clip")]
    seen = [f"{n} {name}{'s' if n > 1 else ''}" for n, name in media if n]
    if seen:
        lines.append(f"I received {' and '.join(seen)} with your message.")
    if earlier:
        lines.append(f"I can see {earlier} earlier message{'s' if earlier > 1 else ''} in this conversation.")
    if system:
        lines.append(f"My instructions say: \"{_quote(system, 60)}\".")
    lines.append("")
    lines.append("This answer was generated offline by the qwen-jupyter emulator:")
    lines.append("")
    lines.append("- it is deterministic, so notebooks re-run identically;")
    lines.append("- it speaks the same wire formats as Model Studio.")
    if any(word in prompt.lower() for word in ("math", "latex", "formula", "equation")):
        lines += ["", r"Inline math looks like \( e^{i\pi} + 1 = 0 \), and display math like:", "",
                  r"\[ \int_0^1 x^2 \, dx = \frac{1}{3} \]"]
    if "code" in prompt.lower() or "python" in prompt.lower():
        lines += ["", "```python", "print('hello from the emulator')", "```"]
    return "\n".join(lines)
