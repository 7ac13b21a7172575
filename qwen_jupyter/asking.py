"""The one way to ask: the magic, the panel and chat() send every request through here.

ask() sends a built request and returns its streaming result. ask_in() does the same inside a notebook's chat:
the context is the chat's turns before the asking cell's own (so a re-run does not see later answers), and the
answer becomes that cell's turn when it ends.
"""

from __future__ import annotations

from collections.abc import Callable

from .backends import stream_events
from .notebook import Session
from .request import Request
from .result import ANSWER_LIMIT, QwenResult
from .settings import Settings


def ask(request: Request, settings: Settings, on_complete: Callable[[QwenResult], None] | None = None,
        max_answer_chars: int = ANSWER_LIMIT) -> QwenResult:
    """Send a built request; the result streams as it is iterated or read."""
    return QwenResult(stream_events(request, settings), messages=request.messages, model=request.model,
                      api=settings.api, on_complete=on_complete, max_answer_chars=max_answer_chars)


def ask_in(session: Session, chat: str, key: str, request: Request, settings: Settings, *, once: bool = False,
           max_answer_chars: int = ANSWER_LIMIT) -> QwenResult:
    """Ask in a chat from one cell (or panel send, keyed alike); the answer is recorded as that cell's turn.

    `once` sends no context and records nothing in the chat (the result is still kept in the session).
    """
    if once:
        return ask(request, settings, session.results.append, max_answer_chars)
    history = session.conversation(chat).context_for(key)
    sent = request.with_history(history)
    user = request.messages[-1]
    return ask(sent, settings, lambda result: session.record(chat, key, user, result), max_answer_chars)
