"""map() against the session emulator, each test with its own database and the emulator's batch clock reset."""

from __future__ import annotations

import pytest

import qwen_jupyter
from qwen_jupyter.emulator.state import State
from qwen_jupyter.state.store import Store

from ..conftest import KEY

CHAT = "/compatible-mode/v1/chat/completions"


def chat_requests(emu) -> list[dict]:
    """The Chat Completions requests the emulator received (not file or batch calls)."""
    return [r for r in emu.received if r["path"] == CHAT]


@pytest.fixture
def db(tmp_path) -> str:
    return str(tmp_path / "qwen.db")


@pytest.fixture
def batch_clock(emu):
    """The emulator's batch timing, restored after the test."""
    defaults = State()
    yield emu.state
    for name in ("batch_phase_seconds", "batch_lines_per_second", "batch_clock", "parse_seconds"):
        setattr(emu.state, name, getattr(defaults, name))


def _connected(emu, db: str, function):
    """`function` (map, classify, filter) reaching the emulator, storing into `db`, without a progress bar."""

    def call(*args, **options):
        return function(*args, **{"base_url": emu.url, "api_key": KEY, "db": db, "progress": False, **options})

    return call


@pytest.fixture
def run(emu, db, batch_clock):
    """qwen_jupyter.map() reaching the emulator, storing into this test's database, without a progress bar."""
    return _connected(emu, db, qwen_jupyter.map)


@pytest.fixture
def classify(emu, db, batch_clock):
    """qwen_jupyter.classify(), likewise."""
    return _connected(emu, db, qwen_jupyter.classify)


@pytest.fixture
def keep(emu, db, batch_clock):
    """qwen_jupyter.filter(), likewise."""
    return _connected(emu, db, qwen_jupyter.filter)


def planned(settings, texts: list[str], template: str = "Say {text}", model: str = "qwen-plus", **options):
    """The requests and plan map() makes of these rows (nothing stored yet: every row is to send)."""
    import pandas as pd

    from qwen_jupyter.data.mapping import Requests, plan_rows
    from qwen_jupyter.data.rows import Template

    frame = pd.DataFrame({"text": texts})
    requests = Requests(Template(template, frame), model, None, None, None, settings, options)
    store = Store(":memory:")
    try:
        return requests, plan_rows(requests, store)
    finally:
        store.close()


def stored_rows(db: str, answered_only: bool = False) -> int:
    """How many rows the database holds (answered, or also failed)."""
    store = Store(db)
    try:
        query = "SELECT count(*) FROM answers" + (" WHERE error IS NULL" if answered_only else "")
        return store.db.execute(query).fetchone()[0]
    finally:
        store.close()
