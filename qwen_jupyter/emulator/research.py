"""qwen-deep-research on the native API: stream only, frames carry `output.message` with a phase and a status
(not choices), the top-level keys keep the service's spelling `fininshed` / `fininshed_reason`, and usage is
cumulative. A topic answers with a clarifying question; the next message (the answers) plans, researches
in rounds (queries, web sites, learnings, KeepAlive heartbeats) and writes the report with numbered references.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .errors import invalid
from .replies import Conversation, count_tokens, pieces

MODEL = "qwen-deep-research"


def check(model: str, stream: bool) -> bool:
    """Whether the request is for deep research (refusing a non-streamed one, as the service does)."""
    if not model.startswith(MODEL):
        return False
    if not stream:
        raise invalid("This model only support stream mode, please enable the stream parameter to access the model.")
    return True


def _users(conversation: Conversation) -> list[str]:
    return [t.text for t in conversation.turns if t.role == "user"]


def _topic(conversation: Conversation) -> str:
    """The topic: the last user message on a clarifying turn, the one before the answers on a research turn
    (topics and answers alternate, so a chat can research one topic after another)."""
    users = _users(conversation)
    if not users:
        return "the topic"
    topic = users[-1] if len(users) % 2 else users[-2]
    return " ".join(topic.split())[:80]


def _sites(topic: str, round_id: int) -> list[dict[str, str]]:
    return [{"title": f"Emulated source {round_id}.{i} on {topic[:40]}", "url": f"https://example.com/research/"
             f"{round_id}/{i}", "description": "An emulated web page.", "favicon": "https://example.com/favicon.ico"}
            for i in (1, 2)]


def frames(conversation: Conversation, context: Any, size: int | None,
           extras: dict[str, Any]) -> Iterator[tuple[bytes, bool]]:
    """The frames of a clarifying turn (one user message) or of a research turn (after the clarification)."""
    topic = _topic(conversation)
    input_tokens = sum(count_tokens(t.text) for t in conversation.turns) + 600
    output = 0
    number = 0

    def frame(phase: str, status: str, content: str = "", extra: dict[str, Any] | None = None) -> bytes:
        nonlocal number, output
        number += 1
        output += count_tokens(content)
        payload = {"output": {"message": {"phase": phase, "role": "assistant", "content": content,
                                          "extra": {"deep_research": extra or {}}, "status": status},
                              "fininshed": False, "fininshed_reason": "null"},
                   "usage": {"input_tokens": input_tokens, "output_tokens": output},
                   "request_id": context.request_id}
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        return f"id:{number}\nevent:result\n:HTTP_STATUS/200\ndata:{data}\n\n".encode()

    if len(_users(conversation)) % 2:  # a topic: ask about it first; its answers (the next message) start research
        question = (f"To research \"{topic}\" well, a few questions first (emulated): 1. Which aspect matters most "
                    "to you? 2. What period should the research cover? 3. Who is the report for?")
        for piece in pieces(question, size):
            yield frame("answer", "typing", piece), True
        yield frame("answer", "finished"), False
        return
    summary = (extras.get("parameters") or {}).get("output_format") == "model_summary_report"
    for piece in pieces(f"The research will look at {topic} in two rounds: background, then recent work.", size):
        yield frame("ResearchPlanning", "typing", piece), True
    yield frame("ResearchPlanning", "finished"), False
    references = []
    for round_id, goal in ((1, f"Background of {topic}"), (2, f"Recent developments in {topic}")):
        yield frame("WebResearch", "streamingQueries", extra={"research": {"id": round_id, "query": goal}}), True
        yield frame("WebResearch", "streamingQueries",
                    extra={"research": {"id": round_id, "researchGoal": goal, "query": ""}}), True
        sites = _sites(topic, round_id)
        yield frame("WebResearch", "streamingWebResult", extra={"research": {"id": round_id, "webSites": sites}}), True
        yield frame("WebResearch", "streamingWebResult",
                    extra={"research": {"id": round_id, "learningMap": {"1": f"What round {round_id} learned."}}}), True
        yield frame("WebResearch", "WebResultFinished", extra={"research": {"id": round_id}}), True
        yield frame("KeepAlive", "typing"), False
        references += sites
    refs = [{"index_number": i, "title": s["title"], "url": s["url"], "description": s["description"],
             "icon": s["favicon"]} for i, s in enumerate(references, 1)]
    sections = ["## Summary", f"An emulated report on {topic} [1][3]."]
    if not summary:
        sections += ["## Background", "What the first round found [1][2].", "## Recent work",
                     "What the second round found [3][4].", "## Conclusion", "Nothing here came from the web."]
    report = f"# {topic}\n\n" + "\n\n".join(sections)
    for position, piece in enumerate(pieces(report, size)):
        yield frame("answer", "typing", piece, {"references": refs} if position == 0 else None), True
    yield frame("answer", "finished"), False
