"""Store: conversations, the request log, map()'s answers and batch jobs in SQLite. The only module that imports
sqlite3.

Nothing written holds a key (every text goes through redact()) or, unless asked, inline media: a picture is kept
as its digest and label, and comes back after a restart as a note. Only its owner can read the file. A damaged
database is moved aside and a new one started; a locked one is waited for, and a turn that still cannot be
written stays in memory and is written with the next write that succeeds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import sys
import threading
import time
from dataclasses import asdict, replace
from typing import Any

from ..core.errors import redact
from ..core.media import Media
from ..core.messages import Message, ToolCall, without_media
from .conversation import Conversation, Turn
from .migrations import migrate

DB_ENV = "QWEN_JUPYTER_DB"
WAIT = 5.0  # seconds to wait for another program's lock before keeping a write for later


def _data_dir() -> str:
    import platformdirs

    return platformdirs.user_data_dir("qwen-jupyter", appauthor=False)


def default_path() -> str:
    """QWEN_JUPYTER_DB, else qwen.db in the user's data directory."""
    if os.environ.get(DB_ENV):
        return os.environ[DB_ENV]
    return os.path.join(_data_dir(), "qwen.db")


def _stored_media(media: Media, keep: bool) -> dict[str, Any]:
    inline = media.url.startswith("data:") or any(f.startswith("data:") for f in media.frames)
    if keep or not inline:
        return asdict(media)
    digest = hashlib.sha256()
    for url in media.frames or (media.url,):
        digest.update(base64.b64decode(url.partition(",")[2]) if url.startswith("data:") else url.encode())
    return {"kind": media.kind, "label": media.label, "sha256": digest.hexdigest()}


def _message_json(message: Message, keep_images: bool = False) -> str:
    data = {
        "role": message.role, "text": message.text, "reasoning": message.reasoning,
        "tool_calls": [asdict(c) for c in message.tool_calls], "tool_call_id": message.tool_call_id,
        "media": [_stored_media(m, keep_images) for m in message.media],
    }
    return redact(json.dumps(data, ensure_ascii=False))


def _message(text: str) -> Message:
    data = json.loads(text)
    media = [Media(**{**m, "frames": tuple(m["frames"])}) if "url" in m else Media(m["kind"], "", m["label"])
             for m in data["media"]]
    message = Message(data["role"], data["text"], tuple(media), data["reasoning"],
                      tuple(ToolCall(**c) for c in data["tool_calls"]), data["tool_call_id"])
    # Media stored as a digest cannot be sent again: those become a note, as for a text-only model.
    kept = tuple(m for m in media if m.url)
    return replace(without_media(message), media=kept) if len(kept) < len(media) else message


def _is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Corruption (not a lock, a full disk or a programming error): the base class is what SQLite reports."""
    return type(exc) is sqlite3.DatabaseError


def _is_lock(exc: sqlite3.DatabaseError) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc))


def _notice(text: str) -> None:
    print(text, file=sys.stderr)


class Store:
    """Loads and saves conversations by notebook, and logs every exchange."""

    def __init__(self, path: str | None = None, *, keep_images: bool = False, wait: float = WAIT) -> None:
        self.path = path or default_path()
        self.keep_images = keep_images
        self.wait = wait
        self._pending: list[tuple[str, tuple]] = []  # writes a lock held off, oldest first
        # One connection serves the cells, the panel's worker and map()'s workers: sqlite3 leaves using it from
        # several threads at once to us, and a read beside a write crashed the process (a segfault).
        self._using = threading.RLock()
        self._open()

    def _open(self) -> None:
        if self.path != ":memory:":
            self._private_files()
        self.db = sqlite3.connect(self.path, timeout=self.wait, check_same_thread=False)
        try:
            if self.db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("database disk image is malformed")
            # Write-ahead log: a commit costs no fsync (map() commits every finished row), and a killed kernel
            # loses nothing that was committed; only a power cut can lose the last moments.
            self._write_ahead()
            self.db.execute("PRAGMA synchronous=NORMAL")
            migrate(self.db)
        except sqlite3.DatabaseError as exc:
            if not _is_damage(exc):
                raise
            self._move_aside(exc)

    def _write_ahead(self) -> None:
        """Switch to the write-ahead log. A new file's switch needs it to itself and SQLite does not wait for
        that: while another program is opening (or migrating) the same new file, try again for `wait` seconds."""
        deadline = time.monotonic() + self.wait
        while True:
            try:
                self.db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _is_lock(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _private_files(self) -> None:
        """Our data directory 0700 and the database 0600, from creation on (and fixed when an older one was not)."""
        folder = os.path.dirname(os.path.abspath(self.path))
        if os.path.abspath(folder) == os.path.abspath(_data_dir()) or not os.path.isdir(folder):
            os.makedirs(folder, mode=0o700, exist_ok=True)
            os.chmod(folder, 0o700)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(self.path, 0o600)

    def _move_aside(self, exc: sqlite3.DatabaseError) -> None:
        """Rename a damaged database with a timestamp, say which chats it held, and start a new one."""
        try:
            rows = self.db.execute("SELECT DISTINCT notebook, chat FROM turns ORDER BY notebook, chat").fetchall()
        except sqlite3.DatabaseError:
            rows = None
        self.db.close()
        aside = f"{self.path}.damaged-{time.strftime('%Y%m%d-%H%M%S')}"
        os.replace(self.path, aside)
        for suffix in ("-journal", "-wal", "-shm"):
            if os.path.exists(self.path + suffix):
                os.replace(self.path + suffix, aside + suffix)
        if rows is None:
            lost = "its chats could not be read"
        else:
            chats: dict[str, list[str]] = {}
            for notebook, chat in rows:
                chats.setdefault(notebook, []).append(chat)
            lost = "chats lost: " + ("; ".join(f"{nb}: {', '.join(c)}" for nb, c in chats.items()) or "none")
        _notice(f"The conversation database was damaged ({exc}); moved it to {os.path.basename(aside)} and "
                f"started a new one ({lost}).")
        self._open()

    def _write(self, statements: list[tuple[str, tuple]]) -> None:
        """Run writes in one transaction, after any a lock held off; if the lock outlasts the wait, keep them."""
        with self._using:
            self._write_now(statements)

    def _write_now(self, statements: list[tuple[str, tuple]]) -> None:
        todo = self._pending + statements
        try:
            with self.db:
                for sql, params in todo:
                    self.db.execute(sql, params)
        except sqlite3.DatabaseError as exc:
            if _is_damage(exc):
                self._move_aside(exc)
                self._pending = []
                self._write_now(todo)
                return
            if not _is_lock(exc):
                raise
            if not self._pending:
                _notice(f"The conversation database is locked by another program (waited {self.wait:g} s); "
                        "this answer is kept in memory and saved with the next one.")
            self._pending = todo
            return
        self._pending = []

    def _read(self, sql: str, params: tuple) -> list[tuple]:
        with self._using:
            try:
                return self.db.execute(sql, params).fetchall()
            except sqlite3.DatabaseError as exc:
                if not _is_damage(exc):
                    raise
                self._move_aside(exc)
                return []

    def load(self, notebook: str) -> dict[str, Conversation]:
        """Every chat of a notebook, turns in order."""
        chats: dict[str, Conversation] = {}
        rows = self._read(
            "SELECT chat, key, user, assistant, model, request_id, status, usage, steps, documents, about_documents "
            "FROM turns WHERE notebook = ? ORDER BY chat, position", (notebook,))
        for chat, key, user, assistant, model, request_id, status, usage, steps, documents, about in rows:
            turn = Turn(key, _message(user), _message(assistant), model or "", request_id, status or "ok",
                        json.loads(usage or "{}"), tuple(_message(m) for m in json.loads(steps or "[]")),
                        tuple(json.loads(documents or "[]")), bool(about))
            chats.setdefault(chat, Conversation(chat)).turns.append(turn)
        return chats

    def _turn(self, notebook: str, chat: str, position: int, turn: Turn) -> tuple[str, tuple]:
        steps = json.dumps([_message_json(m, self.keep_images) for m in turn.steps])
        return ("INSERT OR REPLACE INTO turns (notebook, chat, position, key, user, assistant, model, request_id, "
                "status, usage, created, steps, documents, about_documents) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (notebook, chat, position, turn.key, _message_json(turn.user, self.keep_images),
                 _message_json(turn.assistant, self.keep_images), turn.model, turn.request_id, turn.status,
                 json.dumps(turn.usage), time.time(), steps, json.dumps(turn.documents), int(turn.about_documents)))

    def save_turn(self, notebook: str, chat: str, position: int, turn: Turn) -> None:
        """Insert or replace one turn (a re-run cell keeps its position): O(1) per answer, not O(conversation)."""
        self._write([self._turn(notebook, chat, position, turn)])

    def save(self, notebook: str, conversation: Conversation) -> None:
        """Replace the stored turns of one chat with the conversation's (after turns were removed)."""
        self._write([("DELETE FROM turns WHERE notebook = ? AND chat = ?", (notebook, conversation.name))]
                    + [self._turn(notebook, conversation.name, p, t) for p, t in enumerate(conversation.turns)])

    def delete(self, notebook: str, chat: str) -> None:
        self._write([("DELETE FROM turns WHERE notebook = ? AND chat = ?", (notebook, chat))])

    def _log(self, notebook: str, chat: str | None, key: str | None, entry: dict[str, Any]) -> tuple[str, tuple]:
        text = {name: redact(entry.get(name) or "") or None for name in ("text", "reasoning", "error")}
        return ("INSERT INTO log (notebook, chat, key, created, model, api, request, text, reasoning, usage, "
                "error, request_id, emulated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (notebook, chat, key, time.time(), entry.get("model"), entry.get("api"),
                 redact(json.dumps(entry.get("messages", []), ensure_ascii=False)), text["text"],
                 text["reasoning"], json.dumps(entry.get("usage") or {}), text["error"],
                 redact(entry.get("request_id") or "") or None, int(bool(entry.get("emulated")))))

    def log(self, notebook: str, chat: str | None, key: str | None, entry: dict[str, Any]) -> None:
        """Append one exchange to the log: the new message and the answer (plain data; no key, no SDK objects)."""
        self._write([self._log(notebook, chat, key, entry)])

    def record(self, notebook: str, chat: str, key: str, entry: dict[str, Any],
               turn: tuple[int, Turn] | None) -> None:
        """The cell's turn (at its position), then its log entry, in one transaction: neither is lost alone."""
        turns = [self._turn(notebook, chat, *turn)] if turn else []
        self._write(turns + [self._log(notebook, chat, key, entry)])

    def search(self, notebook: str | None, term: str, limit: int = 20) -> list[dict[str, Any]]:
        """Logged exchanges whose prompt or answer contains the term (literally: % and _ are no wildcards)."""
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = ("SELECT created, chat, model, request, text, error FROM log "
                 "WHERE (request LIKE ? ESCAPE '\\' OR text LIKE ? ESCAPE '\\')"
                 + (" AND notebook = ?" if notebook else "") + " ORDER BY created DESC LIMIT ?")
        params: tuple = (pattern, pattern, notebook, limit) if notebook else (pattern, pattern, limit)
        return [dict(zip(("created", "chat", "model", "request", "text", "error"), row, strict=True))
                for row in self._read(query, params)]

    def answers(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """Stored map() rows by request key (answered or failed), for the keys given."""
        found: dict[str, dict[str, Any]] = {}
        names = ("key", "model", "text", "usage", "error", "request_id", "emulated", "logprobs")
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = self._read(f"SELECT {', '.join(names)} FROM answers WHERE key IN ({','.join('?' * len(chunk))})",
                              tuple(chunk))
            for row in rows:
                entry = dict(zip(names, row, strict=True))
                entry["usage"] = json.loads(entry["usage"] or "{}")
                entry["emulated"] = bool(entry["emulated"])
                entry["logprobs"] = json.loads(entry["logprobs"]) if entry["logprobs"] else None
                found[entry["key"]] = entry
        return found

    def answered(self, keys: list[str]) -> set[str]:
        """Which of these map() request keys have a stored answer (not an error): what a plan skips."""
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            found.update(key for (key,) in self._read(
                f"SELECT key FROM answers WHERE error IS NULL AND key IN ({','.join('?' * len(chunk))})", tuple(chunk)))
        return found

    def save_answers(self, entries: list[dict[str, Any]]) -> None:
        """Store finished map() rows (an answer, or the error that ended the row), replacing earlier tries."""
        self._write([("INSERT OR REPLACE INTO answers (key, model, text, usage, error, request_id, emulated, "
                      "created, logprobs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      (e["key"], e.get("model"), redact(e.get("text") or "") if e.get("text") is not None else None,
                       json.dumps(e.get("usage") or {}), redact(e["error"]) if e.get("error") else None,
                       e.get("request_id"), int(bool(e.get("emulated"))), time.time(),
                       redact(json.dumps(e["logprobs"], ensure_ascii=False)) if e.get("logprobs") else None))
                     for e in entries])

    def save_batch_job(self, job_id: str, status: str, batches: list[dict[str, Any]],
                       spec: dict[str, Any] | None = None) -> None:
        """Insert a batch job with what it was asked (`spec`: its rows and keys, written once), or update its status
        and its batches (id, status, counts)."""
        if spec is None:
            self._write([("UPDATE batch_jobs SET status = ?, batches = ? WHERE id = ?",
                          (status, json.dumps(batches), job_id))])
            return
        self._write([("INSERT INTO batch_jobs VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                      "status = excluded.status, batches = excluded.batches",
                      (job_id, time.time(), status, json.dumps(batches), redact(json.dumps(spec, ensure_ascii=False))))])

    def batch_jobs(self, job_id: str | None = None) -> list[dict[str, Any]]:
        """Batch jobs, newest first (only the one whose id, or one of whose batch ids, is `job_id`, if given)."""
        query = "SELECT id, created, status, batches, spec FROM batch_jobs"
        params: tuple = ()
        if job_id:
            query += " WHERE id = ? OR batches LIKE ?"
            params = (job_id, f'%"{job_id}"%')
        rows = self._read(query + " ORDER BY created DESC", params)
        return [{"id": i, "created": c, "status": s, "batches": json.loads(b), "spec": json.loads(p)}
                for i, c, s, b, p in rows]

    def close(self) -> None:
        with self._using:
            self.db.close()
