"""Translation with Qwen-MT: languages, terms, translation memory and domain hints, against the emulator."""

from __future__ import annotations

import openai
import pytest

import qwen_jupyter
from qwen_jupyter.api import prepare
from qwen_jupyter.core.errors import QwenError

from ..conftest import KEY


def _options(api, body):
    return body["translation_options"] if api == "openai" else body["parameters"]["translation_options"]


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_to_a_language_uses_qwen_mt_with_the_documented_options(api, connect, emu):
    result = qwen_jupyter.chat("我看到这个视频后没有笑", to="English", **connect(api))
    assert result.error is None and result.model == "qwen-mt-plus"
    assert result.text == "[English, emulated] 我看到这个视频后没有笑"
    body = emu.state.received[-1]["body"]
    assert _options(api, body) == {"source_lang": "auto", "target_lang": "English"}


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_terms_memory_and_domain_reach_the_model(api, connect, emu):
    result = qwen_jupyter.chat("博客园的理念是代码改变世界", to="English", source="Chinese", terms={"博客园": "cnblogs"},
                               domains="This text is a slogan.", model="qwen-mt-turbo", stream=False, **connect(api))
    assert result.text == "[English, emulated] cnblogs的理念是代码改变世界" and result.model == "qwen-mt-turbo"
    assert _options(api, emu.state.received[-1]["body"]) == {
        "source_lang": "Chinese", "target_lang": "English", "terms": [{"source": "博客园", "target": "cnblogs"}],
        "domains": "This text is a slogan."}
    remembered = qwen_jupyter.chat("你好", to="English", memory=[("你好", "Hello there")], **connect(api))
    assert remembered.text == "Hello there"


def test_a_translation_sends_the_text_alone_without_system_or_history(connect, emu):
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "answer"}]
    result = qwen_jupyter.chat("Bonjour", to="English", system="Be brief.", history=history, **connect())
    assert result.error is None
    assert emu.state.received[-1]["body"]["messages"] == [{"role": "user", "content": "Bonjour"}]


def test_from_terms_or_memory_without_a_target_language_is_refused():
    with pytest.raises(QwenError, match="go with --to") as caught:
        prepare("Bonjour", source="French")
    assert caught.value.code == "InvalidInput"


def test_terms_must_be_pairs():
    with pytest.raises(QwenError, match="terms must be a dict"):
        prepare("Bonjour", to="English", terms="AI=IA")


def test_the_emulator_refuses_a_translation_without_target_or_with_history(connect, emu):
    missing = qwen_jupyter.chat("Bonjour", model="qwen-mt-plus", **connect())
    assert missing.error is not None and "target_lang" in missing.error.message
    client = openai.OpenAI(api_key=KEY, base_url=emu.url + "/compatible-mode/v1", max_retries=0)
    with pytest.raises(openai.BadRequestError, match="exactly one user message"):
        client.chat.completions.create(
            model="qwen-mt-plus", messages=[{"role": "system", "content": "Be brief."},
                                            {"role": "user", "content": "Bonjour"}],
            extra_body={"translation_options": {"target_lang": "English"}})


def test_translating_documents_is_refused_before_any_upload(connect, emu, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("Bonjour")
    sent = len(emu.state.received)
    with pytest.raises(QwenError, match="Translation takes the text alone"):
        qwen_jupyter.chat("Translate this.", to="English", file=notes, **connect())
    assert len(emu.state.received) == sent  # nothing uploaded, nothing asked


def test_a_translation_compares_qwen_mt_models_only(connect, emu):
    with pytest.raises(QwenError, match="qwen-plus, qwen-max cannot answer this .it needs a qwen-mt model"):
        qwen_jupyter.compare("Bonjour", ["qwen-plus", "qwen-max"], to="English", **connect())
    both = qwen_jupyter.compare("Bonjour", ["qwen-mt-plus", "qwen-mt-turbo"], to="English", **connect()).wait()
    assert [r.text for r in both] == ["[English, emulated] Bonjour"] * 2


def test_a_named_model_that_cannot_do_it_is_an_error_not_replaced(connect, emu, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("Bonjour")
    sent = len(emu.state.received)
    for options, what in (({"to": "French"}, "does not translate"), ({"file": notes}, "does not read documents"),
                          ({"ocr": "table_parsing", "image": notes}, "does not run OCR tasks")):
        with pytest.raises(QwenError, match=f"qwen-plus {what}"):
            qwen_jupyter.chat("Hello", model="qwen-plus", **options, **connect())
    assert len(emu.state.received) == sent  # nothing uploaded or asked
    assert qwen_jupyter.chat("Hello", to="French", **connect()).model == "qwen-mt-plus"  # none named: the one that can
