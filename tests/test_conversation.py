"""Turns keyed by cell: re-runs replace in place, context is what came before, deleted cells leave."""

from __future__ import annotations

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
