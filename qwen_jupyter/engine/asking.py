"""The one way to ask: the magic, the panel and chat() send every request through here.

ask() sends a built request and returns its streaming result; ask_in() does the same inside a notebook's chat:
the context is the chat's turns before the asking cell's own (so a re-run does not see later answers), and the
answer becomes that cell's turn. answering_model() decides which model answers (the follow-up rule).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..backends import astream_events, stream_events
from ..core.options import DOCUMENT_READERS, RESEARCH_MODEL, beyond_documents, context_free, sent_documents
from ..core.request import Request
from ..core.result import QwenResult
from ..core.settings import ANSWER_LIMIT, Settings
from ..core.tools import Toolbox, toolbox
from ..state.conversation import Conversation
from ..state.session import Session
from .approval import Approve
from .documents import still_uploaded
from .prefix import with_prefix
from .rounds import MAX_ROUNDS, tool_rounds
from .routing import for_request


@dataclass(frozen=True)
class Asking:
    """How an answer is produced besides the request: the tools the toolkit runs, and the limits."""

    tools: Toolbox | None = None  # None: the request's tool schemas are offered, their calls returned
    max_rounds: int = MAX_ROUNDS
    approve: Approve | None = None  # who answers an approval: a tool that asks, or every call with confirm_all
    confirm_all: bool = False  # --confirm: every call waits for a yes
    max_answer_chars: int = ANSWER_LIMIT

    @property
    def needs_approval(self) -> bool:
        """Whether some call may wait for the person's yes."""
        return self.confirm_all or any(tool.asks for tool in (self.tools.tools.values() if self.tools else ()))


def ask(request: Request, settings: Settings, on_complete: Callable[[QwenResult], None] | None = None,
        how: Asking = Asking()) -> QwenResult:
    """Send a built request; the result streams as it is iterated or read."""
    settings = for_request(settings, request)
    if request.tools:
        events = tool_rounds(request, settings, how.tools or toolbox(request.tools), max_rounds=how.max_rounds,
                             approve=how.approve, confirm_all=how.confirm_all)
    else:
        events = stream_events(request, settings)
    if request.prefix:
        events = with_prefix(events, request.prefix)
    return QwenResult(events, messages=request.messages, model=request.model, api=settings.api,
                      region=settings.region, on_complete=on_complete, max_answer_chars=how.max_answer_chars,
                      searched=request.search)


async def aask(request: Request, settings: Settings, max_answer_chars: int = ANSWER_LIMIT) -> QwenResult:
    """Send a built request from async code; the finished result (folded as the events arrive)."""
    settings = for_request(settings, request)
    return await QwenResult.gather(astream_events(request, settings), messages=request.messages,
                                   model=request.model, api=settings.api, region=settings.region,
                                   max_answer_chars=max_answer_chars)


def ask_in(session: Session, chat: str, key: str, request: Request, settings: Settings, *, once: bool = False,
           how: Asking = Asking()) -> QwenResult:
    """Ask in a chat from one cell (or panel send, keyed alike); the answer is recorded as that cell's turn.

    `once` sends no context and records nothing in the chat (the result is still kept in the session).
    """
    if once:
        return ask(request, settings, session.results.append, how)
    # Deep research keeps its documented exchange (topic, clarifying question, answers): it is sent its own turns
    # of the chat, not what other models were asked there.
    own = RESEARCH_MODEL if request.model.startswith(RESEARCH_MODEL) else ""
    conversation = session.conversation(chat)
    sent = request.with_history(conversation.context_for(key, own))
    if DOCUMENT_READERS.fits(request.model) and not context_free(request.extra):
        sent = sent.with_documents(carried_documents(conversation, key, settings))  # a follow-up is about them too
    user, named = request.messages[-1], sent_documents(request.messages)
    return ask(sent, settings, lambda result: session.record(chat, key, user, result, named), how)


def carried_documents(conversation: Conversation, key: str, settings: Settings) -> tuple[str, ...]:
    """The documents earlier cells of the chat named that are still uploaded where this request goes (deleted
    with %qwen files delete, or on another region's host, they are not sent)."""
    return still_uploaded(conversation.documents_for(key), settings.host)


def answering_model(session: Session, chat: str, key: str, settings: Settings, *, named: str | None,
                    default: str, options: dict[str, Any], apart: bool = False) -> str:
    """Which model answers, decided here for the magic and the panel alike: the one named; else, for the question
    right after one about documents, the model that read them (it follows up on them), unless the ask is apart (its
    own pictures, --new, --once, a comparison, a translation) or wants what a document model does not do
    (`options` as build_request takes them); else the default."""
    if named:
        return named
    conversation = session.chats.get(chat)
    reader = conversation.document_reader(key) if conversation and not apart and not beyond_documents(options) \
        else None
    if reader and DOCUMENT_READERS.fits(reader) and carried_documents(conversation, key, settings):
        return reader
    return default
