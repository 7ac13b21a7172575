"""Numbered schema steps for the store; each runs once and is recorded in _migrations."""

from __future__ import annotations

import sqlite3


def m001_conversations(db: sqlite3.Connection) -> None:
    """Turns of each notebook's chats, in order, one per producing cell."""
    db.execute(
        """CREATE TABLE turns (
            notebook TEXT NOT NULL,
            chat TEXT NOT NULL,
            position INTEGER NOT NULL,
            key TEXT NOT NULL,
            user TEXT NOT NULL,
            assistant TEXT NOT NULL,
            model TEXT,
            request_id TEXT,
            status TEXT,
            usage TEXT,
            created REAL NOT NULL,
            PRIMARY KEY (notebook, chat, key)
        )"""
    )


def m002_log(db: sqlite3.Connection) -> None:
    """Every request and response, for %qwen log search (never the key)."""
    db.execute(
        """CREATE TABLE log (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            notebook TEXT NOT NULL,
            chat TEXT,
            key TEXT,
            created REAL NOT NULL,
            model TEXT,
            api TEXT,
            request TEXT NOT NULL,
            text TEXT,
            reasoning TEXT,
            usage TEXT,
            error TEXT,
            request_id TEXT,
            emulated INTEGER
        )"""
    )
    db.execute("CREATE INDEX log_notebook ON log (notebook, created)")


def m003_answers(db: sqlite3.Connection) -> None:
    """map()'s finished rows, keyed by the request's content, so a row is never paid for twice."""
    db.execute(
        """CREATE TABLE answers (
            key TEXT PRIMARY KEY,
            model TEXT,
            text TEXT,
            usage TEXT,
            error TEXT,
            request_id TEXT,
            emulated INTEGER,
            created REAL NOT NULL
        )"""
    )


def m004_batch_jobs(db: sqlite3.Connection) -> None:
    """Batch API jobs map() started (one job may be several batches), so they survive a kernel restart."""
    db.execute(
        """CREATE TABLE batch_jobs (
            id TEXT PRIMARY KEY,
            created REAL NOT NULL,
            status TEXT NOT NULL,
            batches TEXT NOT NULL,
            spec TEXT NOT NULL
        )"""
    )


def m005_tool_steps(db: sqlite3.Connection) -> None:
    """A turn's tool rounds (the calls and their results between the question and the answer)."""
    db.execute("ALTER TABLE turns ADD COLUMN steps TEXT")


def m006_turn_documents(db: sqlite3.Connection) -> None:
    """The documents (file ids) a turn's cell named, which the chat's follow-ups carry, and whether it was sent
    documents at all (so the question after it follows up on them)."""
    db.execute("ALTER TABLE turns ADD COLUMN documents TEXT")
    db.execute("ALTER TABLE turns ADD COLUMN about_documents INTEGER")


def m007_answer_logprobs(db: sqlite3.Connection) -> None:
    """map()'s answers keep their tokens' log probabilities when they came (the operators' confidence)."""
    db.execute("ALTER TABLE answers ADD COLUMN logprobs TEXT")


MIGRATIONS = [m001_conversations, m002_log, m003_answers, m004_batch_jobs, m005_tool_steps, m006_turn_documents,
              m007_answer_logprobs]


def migrate(db: sqlite3.Connection) -> None:
    """Apply the steps this database has not seen yet. Each runs under the write lock and is looked up again
    there: two programs opening a new database at once (a kernel and a watcher, two kernels) run it once."""
    db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied REAL)")
    done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    for step in MIGRATIONS:
        if step.__name__ in done:
            continue
        db.execute("BEGIN IMMEDIATE")  # waits (the connection's timeout) while another program migrates
        try:
            if not db.execute("SELECT 1 FROM _migrations WHERE name = ?", (step.__name__,)).fetchone():
                step(db)
                db.execute("INSERT INTO _migrations VALUES (?, julianday('now'))", (step.__name__,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
