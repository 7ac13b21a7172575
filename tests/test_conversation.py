"""Turns keyed by cell: re-runs replace in place, context is what came before, deleted cells leave."""

from __future__ import annotations

from dataclasses import replace

from qwen_jupyter.conversation import Conversation, Turn
from qwen_jupyter.request import Message


def _turn(key: str, text: str) -> Turn:
    return Turn(key, Message("user", text), Message("assistant", f"re: {text}"), usage={"total_tokens": 10})


def test_rerun_replaces_in_place_and_context_is_what_came_before():
    chat = Conversation("c")
    for key in "abc":
        chat.record(_turn(key, key))
    assert [m.text for m in chat.context_for("b")] == ["a", "re: a"]
    assert len(chat.context_for("new")) == 6
    assert chat.record(_turn("b", "b2")) == 1
    assert [t.user.text for t in chat.turns] == ["a", "b2", "c"]


def test_forget_and_totals():
    chat = Conversation("c", [_turn("a", "a"), _turn("b", "b")])
    assert chat.forget({"a", "zzz"}) and not chat.forget({"zzz"})
    assert [t.key for t in chat.turns] == ["b"] and chat.tokens() == 10
    assert chat.messages() == [{"role": "user", "content": "b"}, {"role": "assistant", "content": "re: b"}]


def test_documents_are_those_asked_about_before_the_cell_and_a_follow_up_is_the_next_turn():
    chat = Conversation("c")
    chat.record(replace(_turn("a", "the report?"), documents=("file-1",)))
    chat.record(_turn("b", "and then?"))
    chat.record(replace(_turn("c", "the memo?"), documents=("file-2", "file-1")))
    assert chat.documents_for("new") == ("file-1", "file-2") and chat.documents_for("b") == ("file-1",)
    assert chat.follows_documents("b") and not chat.follows_documents("c") and chat.follows_documents("new")
    assert chat.documents_for("a") == () and not chat.follows_documents("a")
    chat.forget({"a", "c"})  # their cells were deleted: so were their documents
    assert chat.documents_for("new") == () and not chat.follows_documents("new")
