"""Request building: system first, history, the new turn; options split into fields and extras."""

from __future__ import annotations

import re

import pytest

from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.core.media import Media
from qwen_jupyter.core.messages import Message
from qwen_jupyter.core.request import build_request

PICTURE = Media("image", "https://example.com/cat.png", "cat.png")


def test_order_and_options():
    request = build_request("qwen-plus", "now", system="Be brief.", history=[Message("user", "before")],
                            temperature=0.5, top_k=20, extra={"enable_code_interpreter": True})
    assert [m.role for m in request.messages] == ["system", "user", "user"]
    assert request.temperature == 0.5 and request.extra == {"enable_code_interpreter": True, "top_k": 20}


def test_text_models_get_earlier_pictures_as_a_note():
    history = [Message("user", "look", (PICTURE,)), Message("assistant", "a cat")]
    request = build_request("qwen-plus", "and now?", history=history)
    assert request.messages[0] == Message("user", "look\n[1 image input(s) omitted]")
    vision = build_request("qwen-vl-max", "and now?", history=history)
    assert vision.messages[0].media == (PICTURE,)


def test_the_current_message_keeps_its_media():
    request = build_request("qwen-vl-max", "look", media=[PICTURE])
    assert request.messages[-1].media == (PICTURE,)


@pytest.mark.parametrize(("model", "kind", "words"), [
    ("qwen-plus", "image", "qwen-plus takes text only, not image; for image use qwen-vl-max"),
    ("qwen3-max", "audio", "qwen3-max takes text only, not audio; for audio use qwen3-omni-flash"),
    ("qwen-vl-max", "audio", "qwen-vl-max takes image and video input, not audio"),
])
def test_media_a_model_cannot_take_are_refused_before_sending(model, kind, words):
    with pytest.raises(QwenError, match=re.escape(words)):
        build_request(model, "look", media=[Media(kind, "https://example.com/x", "x")])
    build_request("some-future-model", "look", media=[Media(kind, "https://example.com/x", "x")])  # unknown: sent


def test_a_chats_documents_join_the_requests_own_in_one_message_after_the_system_prompt():
    request = build_request("qwen-long", "And the risks?", system="Be brief.", documents=["file-b"])
    carried = request.with_documents(("file-a", "file-b"))
    assert [(m.role, m.text) for m in carried.messages] == [
        ("system", "Be brief."), ("system", "fileid://file-a,fileid://file-b"), ("user", "And the risks?")]
    plain = build_request("qwen-long", "And then?")
    assert [m.text for m in plain.with_documents(["file-a"]).messages] == ["fileid://file-a", "And then?"]
    assert plain.with_documents(()) is plain and carried.with_documents(["file-a"]) is carried
