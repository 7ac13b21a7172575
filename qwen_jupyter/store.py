"""Store: conversations and the request log in SQLite. The only module that imports sqlite3."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from dataclasses import asdict
from typing import Any

from .conversation import Conversation, Turn
from .media import Media
from .migrations import migrate
from .request import Message, ToolCall

DB_ENV = "QWEN_JUPYTER_DB"


def default_path() -> str:
    """QWEN_JUPYTER_DB, else qwen.db in the user's data directory."""
    if os.environ.get(DB_ENV):
        return os.environ[DB_ENV]
    import platformdirs

    return os.path.join(platformdirs.user_data_dir("qwen-jupyter", appauthor=False), "qwen.db")


def _message_json(message: Message) -> str:
    data = {
        "role": message.role, "text": message.text, "reasoning": message.reasoning,
        "tool_calls": [asdict(c) for c in message.tool_calls], "tool_call_id": message.tool_call_id,
        # Media inline data can be megabytes: keep it (a re-run needs it) but only for this conversation.
        "media": [asdict(m) for m in message.media],
    }
    return json.dumps(data, ensure_ascii=False)


def _message(text: str) -> Message:
    data = json.loads(text)
    return Message(
        data["role"], data["text"], tuple(Media(**{**m, "frames": tuple(m["frames"])}) for m in data["media"]),
        data["reasoning"], tuple(ToolCall(**c) for c in data["tool_calls"]), data["tool_call_id"],
    )


class Store:
    """Loads and saves conversations by notebook, and logs every exchange."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or default_path()
        if self.path != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self.db = sqlite3.connect(self.path, check_same_thread=False)
        migrate(self.db)

    def load(self, notebook: str) -> dict[str, Conversation]:
        """Every chat of a notebook, turns in order."""
        chats: dict[str, Conversation] = {}
        rows = self.db.execute(
            "SELECT chat, key, user, assistant, model, request_id, status, usage FROM turns "
            "WHERE notebook = ? ORDER BY chat, position", (notebook,))
        for chat, key, user, assistant, model, request_id, status, usage in rows:
            turn = Turn(key, _message(user), _message(assistant), model or "", request_id, status or "ok",
                        json.loads(usage or "{}"))
            chats.setdefault(chat, Conversation(chat)).turns.append(turn)
        return chats

    def save_turn(self, notebook: str, chat: str, position: int, turn: Turn) -> None:
        """Insert or replace one turn (a re-run cell keeps its position): O(1) per answer, not O(conversation)."""
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (notebook, chat, position, turn.key, _message_json(turn.user), _message_json(turn.assistant),
                 turn.model, turn.request_id, turn.status, json.dumps(turn.usage), time.time()),
            )

    def save(self, notebook: str, conversation: Conversation) -> None:
        """Replace the stored turns of one chat with the conversation's (after turns were removed)."""
        with self.db:
            self.db.execute("DELETE FROM turns WHERE notebook = ? AND chat = ?", (notebook, conversation.name))
        for position, turn in enumerate(conversation.turns):
            self.save_turn(notebook, conversation.name, position, turn)

    def delete(self, notebook: str, chat: str) -> None:
        with self.db:
            self.db.execute("DELETE FROM turns WHERE notebook = ? AND chat = ?", (notebook, chat))

    def log(self, notebook: str, chat: str | None, key: str | None, entry: dict[str, Any]) -> None:
        """Append one exchange to the log: the new message and the answer (plain data; no key, no SDK objects)."""
        with self.db:
            self.db.execute(
                "INSERT INTO log (notebook, chat, key, created, model, api, request, text, reasoning, usage, "
                "error, request_id, emulated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (notebook, chat, key, time.time(), entry.get("model"), entry.get("api"),
                 json.dumps(entry.get("messages", []), ensure_ascii=False), entry.get("text"),
                 entry.get("reasoning"), json.dumps(entry.get("usage") or {}), entry.get("error"),
                 entry.get("request_id"), int(bool(entry.get("emulated")))),
            )

    def search(self, notebook: str | None, term: str, limit: int = 20) -> list[dict[str, Any]]:
        """Logged exchanges whose prompt or answer contains the term, newest first."""
        pattern = f"%{term}%"
        query = ("SELECT created, chat, model, request, text, error FROM log WHERE (request LIKE ? OR text LIKE ?)"
                 + (" AND notebook = ?" if notebook else "") + " ORDER BY created DESC LIMIT ?")
        params: tuple = (pattern, pattern, notebook, limit) if notebook else (pattern, pattern, limit)
        return [dict(zip(("created", "chat", "model", "request", "text", "error"), row, strict=True))
                for row in self.db.execute(query, params)]

    def close(self) -> None:
        self.db.close()
