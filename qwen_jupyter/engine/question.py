"""A question from any front door: the magic and the panel parse what the person did into a Question and hand it
to ask_question(), which decides the rest once for both: which model answers (the follow-up rule), the documents
uploaded, the request built, the chat started afresh, and whether one model answers or several."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.media import Media
from ..core.request import build_request
from ..core.result import QwenResult
from ..core.settings import Settings
from ..state.session import Session
from .asking import Asking, answering_model, ask_in
from .comparison import Comparison, compare_request, model_list
from .documents import Document, upload_documents


@dataclass(frozen=True)
class Question:
    """What a person asked, from any front door, before anything is decided."""

    prompt: str
    chat: str
    key: str  # the asking cell's turn (or the panel's ask)
    default_model: str  # the front door's: %config's, or the panel's picker
    model: str | None = None  # named by the person: it answers, whatever else is said
    media: tuple[Media, ...] = ()
    system: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # as build_request takes them
    files: tuple[Document, ...] = ()  # documents to upload (once per content)
    file_ids: tuple[str, ...] = ()  # documents uploaded already (the panel says so while it uploads)
    once: bool = False  # no context, not recorded
    new: bool = False  # the chat starts afresh
    compare: tuple[str, ...] = ()  # every model answers, side by side (not recorded as a turn)
    how: Asking = Asking()


def ask_question(question: Question, session: Session, settings: Settings) -> QwenResult | Comparison:
    """Decide what the front doors leave open (the model, the documents, the context) and ask: one result in the
    chat, or a comparison. Nothing is sent (or uploaded) if the question cannot work."""
    apart = bool(question.media or question.once or question.new or question.compare or question.options.get("to"))
    model = answering_model(session, question.chat, question.key, settings, named=question.model,
                            default=question.default_model, options=question.options, apart=apart)
    ids = list(question.file_ids)
    if question.files:
        ids += upload_documents(list(question.files), settings)
    request = build_request(model, question.prompt, media=question.media, system=question.system,
                            documents=ids or None, **question.options)
    if question.new:
        session.reset(question.chat)
    if question.compare:  # every model gets the chat's context; the comparison is not recorded as a turn
        context = () if question.once else session.conversation(question.chat).context_for(question.key)
        return compare_request(request.with_history(context), settings, model_list(list(question.compare)),
                               question.how)
    return ask_in(session, question.chat, question.key, request, settings, once=question.once, how=question.how)
