"""Store: turns round-trip; the log is searchable; migrations run once; damage and locks lose no control."""

from __future__ import annotations

import json
import os
import sqlite3
import threading

from qwen_jupyter.api import ask
from qwen_jupyter.core.media import Media
from qwen_jupyter.core.messages import Message, ToolCall
from qwen_jupyter.core.request import build_request
from qwen_jupyter.state.conversation import Conversation, Turn
from qwen_jupyter.state.migrations import MIGRATIONS
from qwen_jupyter.state.session import Session
from qwen_jupyter.state.store import Store


def test_turns_round_trip(tmp_path):
    path = str(tmp_path / "q.db")
    store = Store(path, keep_images=True)
    user = Message("user", "look", (Media("image", "data:image/png;base64,AAAA", "cat.png"),))
    answer = Message("assistant", "a cat", reasoning="hmm", tool_calls=(ToolCall("c1", "f", "{}"),))
    store.save("nb.ipynb", Conversation("default", [Turn("cell-1", user, answer, "qwen-vl-max", "r1", "ok",
                                                         {"total_tokens": 5}, documents=("file-fe-1",),
                                                         about_documents=True)]))
    store.close()
    loaded = Store(path).load("nb.ipynb")["default"].turns[0]
    assert loaded.user == user and loaded.assistant == answer and loaded.usage == {"total_tokens": 5}
    assert loaded.documents == ("file-fe-1",) and loaded.about_documents
    assert Store(path).load("other.ipynb") == {}


def test_log_search_and_idempotent_migrations(tmp_path):
    path = str(tmp_path / "q.db")
    store = Store(path)
    store.log("nb", "default", "k", {"model": "m", "messages": [{"role": "user", "content": "zebra facts"}],
                                     "text": "Zebras have stripes."})
    store.log("other", "default", "k", {"messages": [], "text": "zebra elsewhere"})
    assert [r["text"] for r in store.search("nb", "zebra")] == ["Zebras have stripes."]
    assert len(store.search(None, "zebra")) == 2
    again = Store(path)
    assert again.db.execute("SELECT count(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)


def test_a_database_from_before_turn_documents_is_migrated_and_keeps_its_turns(tmp_path):
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied REAL)")
    for step in MIGRATIONS[:5]:  # the schema up to tool steps, as an older release left it
        step(db)
        db.execute("INSERT INTO _migrations VALUES (?, 0)", (step.__name__,))
    user, answer = ({"role": role, "text": text, "reasoning": "", "tool_calls": [], "tool_call_id": None, "media": []}
                    for role, text in (("user", "hi"), ("assistant", "hello")))
    db.execute("INSERT INTO turns (notebook, chat, position, key, user, assistant, created) VALUES "
               "('nb', 'default', 0, 'cell-1', ?, ?, 0)", (json.dumps(user), json.dumps(answer)))
    db.commit()
    db.close()
    (turn,) = Store(str(path)).load("nb")["default"].turns
    assert turn.user.text == "hi" and turn.documents == () and not turn.about_documents


def test_in_memory_store():
    store = Store(":memory:")
    store.save("nb", Conversation("x", []))
    assert store.load("nb") == {}


def _turn(key: str, text: str = "hi") -> Turn:
    return Turn(key, Message("user", text), Message("assistant", f"answer to {text}"), "qwen-plus")


def _filled(path: str, logs: int = 0) -> None:
    store = Store(path)
    store.save_turn("nb.ipynb", "default", 0, _turn("c1"))
    store.save_turn("nb.ipynb", "maths", 0, _turn("c2", "2+2"))
    for n in range(logs):
        store.log("nb.ipynb", "default", "c1", {"messages": [], "text": f"answer {n} " + "x" * 400})
    store.close()


def test_a_database_with_a_damaged_header_is_moved_aside(tmp_path, capsys, reliability):
    path = str(tmp_path / "q.db")
    _filled(path)
    with open(path, "r+b") as fh:
        fh.write(b"this is not a database at all!!" * 4)
    store = Store(path)
    notice = capsys.readouterr().err
    assert notice.count("\n") == 1 and "could not be read" in notice
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("q.db.damaged-")]
    assert len(aside) == 1 and aside[0].name in notice
    store.save_turn("nb.ipynb", "default", 0, _turn("c3"))
    assert [t.key for t in store.load("nb.ipynb")["default"].turns] == ["c3"]
    reliability.add("Faults", "database with a damaged header", tried=1, failed=0)


def test_a_truncated_database_is_moved_aside(tmp_path, capsys, reliability):
    path = str(tmp_path / "q.db")
    _filled(path, logs=200)
    with open(path, "r+b") as fh:
        fh.truncate(os.path.getsize(path) * 2 // 3)
    session = Session("nb.ipynb", Store(path))
    notice = capsys.readouterr().err
    assert notice.count("\n") == 1 and "moved it to q.db.damaged-" in notice and session.chats == {}
    session.store.save_turn("nb.ipynb", "default", 0, _turn("c3"))
    assert list(Store(path).load("nb.ipynb")) == ["default"]
    reliability.add("Faults", "truncated database", tried=1, failed=0)


def test_a_damaged_page_is_moved_aside_naming_the_chats_lost(tmp_path, capsys, reliability):
    path = str(tmp_path / "q.db")
    _filled(path, logs=200)
    with open(path, "r+b") as fh:
        fh.seek(os.path.getsize(path) * 2 // 3 // 4096 * 4096)
        fh.write(b"\xff" * 4096)  # a page of the log, in the middle of the file
    Store(path)
    notice = capsys.readouterr().err
    assert notice.count("\n") == 1 and "chats lost: nb.ipynb: default, maths" in notice
    reliability.add("Faults", "database with a damaged page", tried=1, failed=0)


def test_a_locked_database_keeps_the_turn_and_writes_it_later(emu, settings, tmp_path, capsys, reliability):
    path = str(tmp_path / "q.db")
    session = Session("nb.ipynb", Store(path, wait=0.3))
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")  # another program holds the database for longer than we wait
    tried = failed = 0
    for cell in ("c1", "c2"):
        request = build_request("qwen-plus", f"question in {cell}")
        result = ask(request, settings()).wait()
        assert session.record("default", cell, request.messages[-1], result) is not None
        tried += 1
    notice = capsys.readouterr().err
    assert notice.count("\n") == 1 and "locked" in notice
    other.execute("ROLLBACK")
    # A short lock is waited out.
    other.execute("BEGIN EXCLUSIVE")
    threading.Timer(0.1, other.execute, ("ROLLBACK",)).start()
    request = build_request("qwen-plus", "question in c3")
    session.record("default", "c3", request.messages[-1], ask(request, settings()).wait())
    tried += 1
    stored = Store(path).load("nb.ipynb")["default"].turns
    logged = other.execute("SELECT count(*) FROM log").fetchone()[0]
    failed = 3 - len(stored)
    reliability.add("Faults", "locked database", tried=tried, failed=failed)
    assert [t.key for t in stored] == ["c1", "c2", "c3"] and logged == 3 and failed == 0
    assert capsys.readouterr().err == ""


def test_log_search_treats_wildcards_literally(tmp_path, reliability):
    store = Store(str(tmp_path / "q.db"))
    for text in ("100% sure", "snake_case", "plain"):
        store.log("nb", "default", "k", {"messages": [], "text": text})
    found = {term: [r["text"] for r in store.search("nb", term)] for term in ("%", "_", "\\", "0%", "plain")}
    reliability.add("Bad inputs", "LIKE wildcards in %qwen log search", tried=3, failed=0)
    assert found == {"%": ["100% sure"], "_": ["snake_case"], "\\": [], "0%": ["100% sure"], "plain": ["plain"]}


def test_one_store_used_from_several_threads_at_once(tmp_path):
    """The panel's worker, map()'s workers and the cells share one connection; reads beside writes once crashed
    the process (sqlite3 leaves serializing them to us), so this runs in a process of its own."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(f"""
        import threading, time
        from qwen_jupyter.state.store import Store
        store, stop = Store({str(tmp_path / "q.db")!r}), time.monotonic() + 3
        def write(n):
            i = 0
            while time.monotonic() < stop:
                store.log("nb", "c", f"k{{n}}-{{i}}", {{"text": "x" * 100}})
                i += 1
        def read():
            while time.monotonic() < stop:
                store.search("nb", "x")
        threads = [threading.Thread(target=write, args=(n,)) for n in range(2)]
        threads += [threading.Thread(target=read) for _ in range(2)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        print("rows", len(store.search("nb", "x", limit=10**6)))
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and "Exception" not in run.stderr, (run.returncode, run.stderr[-2000:])
    assert int(run.stdout.split()[-1]) > 10


def _open_together(path: str, programs: int) -> list[Exception]:
    """Open one database from several threads at the same moment; the errors they met."""
    start, failures = threading.Barrier(programs), []

    def open_it() -> None:
        start.wait()
        try:
            Store(path).close()
        except sqlite3.Error as exc:  # e.g. "duplicate column name" when two ran one ALTER TABLE
            failures.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(programs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_two_programs_opening_a_new_database_at_once_migrate_it_once(tmp_path):
    """A kernel and another program (a watcher, a second kernel) that open the same new file together both find
    the migrations to do: each step runs under the write lock and is looked up again there, so it runs once."""
    for round_ in range(10):
        path = str(tmp_path / f"shared-{round_}.db")
        assert _open_together(path, 6) == []
        done = sqlite3.connect(path).execute("SELECT name FROM _migrations").fetchall()
        assert sorted(name for (name,) in done) == sorted(step.__name__ for step in MIGRATIONS)
