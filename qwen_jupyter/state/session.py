"""Session: one notebook's conversations and results, kept in memory and persisted through the Store."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING

from ..core.messages import Message
from ..core.options import sent_documents
from .conversation import Conversation, Turn
from .store import Store

if TYPE_CHECKING:  # a session keeps results; it needs their class only to name it
    from ..core.result import QwenResult

DEFAULT_CHAT = "default"


class Session:
    """The chats and results of one notebook (by its path, or another stable id)."""

    def __init__(self, notebook: str, store: Store | None = None) -> None:
        self.notebook = notebook
        self.store = store
        self.chats: dict[str, Conversation] = store.load(notebook) if store else {}
        self.results: list[QwenResult] = []
        self.listeners: list[Callable[[str], None]] = []  # told the name of a chat that changed (the panels)

    def _changed(self, chat: str) -> None:
        for listener in list(self.listeners):
            listener(chat)

    @property
    def last(self) -> QwenResult | None:
        return self.results[-1] if self.results else None

    def conversation(self, name: str = DEFAULT_CHAT) -> Conversation:
        """The named chat, created empty on first use."""
        return self.chats.setdefault(name, Conversation(name))

    def record(self, chat: str, key: str, user: Message, result: QwenResult,
               documents: tuple[str, ...] = ()) -> Turn | None:
        """Keep the exchange as the cell's turn (unless it produced nothing: then nothing changes) and log it;
        `documents` are those the cell named itself (the chat's earlier ones may have gone along)."""
        self.results.append(result)
        error = result.peek_error()  # recording it is not someone reading it
        turn = None
        if error is None or result.text or result.reasoning or result.tool_calls:
            status = "ok" if error is None else "interrupted" if result.interrupted else "incomplete"
            turn = Turn(key, user, result.message(), result.model or "", result.request_id, status, asdict(result.usage),
                        result.steps, documents, bool(sent_documents(result.sent)))
        position = self.conversation(chat).record(turn) if turn else 0
        if self.store:
            # The new message and how much context went with it: logging the whole history every time is O(n^2).
            sent = result.messages
            self.store.record(self.notebook, chat, key, {
                "model": result.model, "api": result.api,
                "messages": {"context_messages": len(sent) - 1, "message": sent[-1] if sent else None},
                "text": result.text,
                "reasoning": result.reasoning, "usage": asdict(result.usage), "request_id": result.request_id,
                "error": error.summary() if error else None, "emulated": result.emulated,
            }, (position, turn) if turn else None)
        if turn:
            self._changed(chat)
        return turn

    def reset(self, name: str = DEFAULT_CHAT) -> None:
        """Empty a chat (in memory and on disk)."""
        self.chats.pop(name, None)
        if self.store:
            self.store.delete(self.notebook, name)
        self._changed(name)

    def forget(self, keys: set[str]) -> None:
        """Drop the turns of cells that were deleted from the notebook."""
        for conversation in self.chats.values():
            if conversation.forget(keys):
                self._save(conversation)
                self._changed(conversation.name)

    def _save(self, conversation: Conversation) -> None:
        if self.store:
            self.store.save(self.notebook, conversation)
