"""Store: turns round-trip with media and tool calls; the log is searchable; migrations run once."""

from __future__ import annotations

from qwen_jupyter.conversation import Conversation, Turn
from qwen_jupyter.media import Media
from qwen_jupyter.request import Message, ToolCall
from qwen_jupyter.store import Store


def test_turns_round_trip(tmp_path):
    path = str(tmp_path / "q.db")
    store = Store(path)
    user = Message("user", "look", (Media("image", "data:image/png;base64,AAAA", "cat.png"),))
    answer = Message("assistant", "a cat", reasoning="hmm", tool_calls=(ToolCall("c1", "f", "{}"),))
    store.save("nb.ipynb", Conversation("default", [Turn("cell-1", user, answer, "qwen-vl-max", "r1", "ok",
                                                         {"total_tokens": 5})]))
    store.close()
    loaded = Store(path).load("nb.ipynb")["default"].turns[0]
    assert loaded.user == user and loaded.assistant == answer and loaded.usage == {"total_tokens": 5}
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
    assert again.db.execute("SELECT count(*) FROM _migrations").fetchone()[0] == 2


def test_in_memory_store():
    store = Store(":memory:")
    store.save("nb", Conversation("x", []))
    assert store.load("nb") == {}
