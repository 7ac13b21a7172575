"""Turns keyed by cell: re-runs replace in place, context is what came before, deleted cells leave."""

from __future__ import annotations

from dataclasses import replace

from qwen_jupyter.core.messages import Message
from qwen_jupyter.state.conversation import Conversation, Turn


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


def test_documents_are_those_cells_before_named_and_a_follow_up_comes_right_after_a_turn_about_them():
    chat = Conversation("c")
    chat.record(replace(_turn("a", "the report?"), model="qwen-long", documents=("file-1",), about_documents=True))
    chat.record(replace(_turn("b", "and then?"), model="qwen-long", about_documents=True))  # a follow-up
    chat.record(replace(_turn("c", "a poem"), model="qwen-plus"))
    chat.record(replace(_turn("d", "the memo?"), model="qwen-long", documents=("file-2", "file-1"),
                        about_documents=True))
    assert chat.documents_for("new") == ("file-1", "file-2") and chat.documents_for("b") == ("file-1",)
    assert chat.document_reader("b") == chat.document_reader("c") == "qwen-long"
    assert chat.document_reader("d") is None and chat.document_reader("new") == "qwen-long"
    assert chat.documents_for("a") == () and chat.document_reader("a") is None
    chat.forget({"a", "d"})  # their cells were deleted: so were the documents they named
    assert chat.documents_for("new") == ()
