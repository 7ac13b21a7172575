"""Deep research (qwen-deep-research) frames -> events: planning as reasoning, the report (or the clarifying
question) as text, each phase and research round as ResearchProgress, the references as numbered sources."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .events import Event, ReasoningDelta, ResearchProgress, SearchResults, TextDelta


class Research:
    """Reads `output.message` frames one by one; `finished` once the answer phase says so."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.seen: set[str] = set()  # web site URLs already reported
        self.finished = False

    def events(self, message: dict[str, Any]) -> list[Event]:
        """Events for one frame's message."""
        phase, status = str(message.get("phase") or ""), str(message.get("status") or "")
        content = message.get("content") or ""
        extra = (message.get("extra") or {}).get("deep_research") or {}
        events: list[Event] = []
        if phase != self.phase and phase != "KeepAlive":
            self.phase = phase
            events.append(ResearchProgress(phase, status))
        if content and phase == "ResearchPlanning":
            events.append(ReasoningDelta(content))
        elif content and phase == "answer":
            events.append(TextDelta(content))
        research = extra.get("research") or extra.get("query")  # the doc's example nests it under "query"
        if isinstance(research, dict):
            sites = tuple((str(s.get("title") or ""), str(s.get("url") or "")) for s in research.get("webSites") or ()
                          if isinstance(s, dict) and s.get("url") not in self.seen)
            self.seen.update(url for _, url in sites)
            goal, query = str(research.get("researchGoal") or ""), str(research.get("query") or "")
            if goal or query or sites or status == "WebResultFinished":  # not every learningMap fragment
                events.append(ResearchProgress(phase, status, research.get("id"), goal, query, sites))
        references = extra.get("references")
        if references:
            events.append(SearchResults.parse(references, "index_number"))
        if phase == "answer" and status == "finished":
            self.finished = True
        return events


def rounds(progress: Iterable[ResearchProgress]) -> list[dict[str, Any]]:
    """The research rounds: id, goal, queries and the web sites read (title, url)."""
    found: dict[int, dict[str, Any]] = {}
    for event in progress:
        if event.round is None:
            continue
        entry = found.setdefault(event.round, {"round": event.round, "goal": "", "queries": [], "sites": []})
        entry["goal"] = event.goal or entry["goal"]
        if event.query and event.query not in entry["queries"]:
            entry["queries"].append(event.query)
        entry["sites"] += list(event.sites)
    return [found[key] for key in sorted(found)]


def note(event: ResearchProgress) -> str:
    """One line for the live view: the phase, the round and what it is doing."""
    names = {"ResearchPlanning": "Planning", "WebResearch": "Researching the web", "answer": "Writing"}
    parts = [names.get(event.phase, event.phase)]
    if event.round is not None:
        parts.append(f"round {event.round}")
    if event.goal or event.query:
        parts.append(event.goal or event.query)
    if event.sites:
        parts.append(f"{len(event.sites)} new site{'s' * (len(event.sites) != 1)}")
    if event.status == "WebResultFinished":
        parts.append("done")
    return " · ".join(parts)
