"""OCR with the qwen-vl-ocr family's built-in tasks: tables as DataFrames, key information as a dict, formulas
as math, words with boxes; on the native API, against the emulator."""

from __future__ import annotations

import pytest

import qwen_jupyter
from qwen_jupyter.api import prepare
from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.views.layout import final_bundle
from tests.pictures import house_png

IMAGE = house_png()


@pytest.mark.parametrize("stream", [True, False])
def test_a_table_comes_back_as_a_dataframe_and_shows_as_a_table(stream, connect, emu):
    result = qwen_jupyter.chat("", image=IMAGE, ocr="table_parsing", stream=stream, **connect())
    assert result.error is None and result.api == "dashscope" and result.model == "qwen-vl-ocr-latest"
    body = emu.state.received[-1]["body"]
    assert body["parameters"]["ocr_options"] == {"task": "table_parsing"}
    (table,) = result.ocr.tables
    assert list(table.columns) == ["Item", "Qty", "Price"] and table.iloc[0].tolist() == ["Apples", "3", "1.20"]
    html = final_bundle(result)["text/html"]
    assert 'class="qwen-ocr-table"' in html and "<td" in html and "```html" not in html
    (content,) = [m["content"] for m in body["input"]["messages"] if m["role"] == "user"]
    assert [list(item) for item in content] == [["image"]]  # the picture alone: the task's own prompt is used


def test_ocr_without_a_picture_is_refused_before_sending(connect, emu):
    sent = len(emu.state.received)
    with pytest.raises(QwenError, match="--ocr reads a picture"):
        qwen_jupyter.chat("Read the table.", ocr="table_parsing", **connect())
    assert len(emu.state.received) == sent


@pytest.mark.parametrize("stream", [True, False])
def test_key_information_is_a_dict_shaped_by_the_schema(stream, connect, emu):
    schema = {"seller": "the shop's name", "invoice": {"number": "the invoice number", "date": "issue date"}}
    result = qwen_jupyter.chat("", image=IMAGE, ocr="key_information_extraction", ocr_schema=schema,
                               stream=stream, **connect()).wait()
    sent = emu.state.received[-1]["body"]["parameters"]["ocr_options"]
    assert sent == {"task": "key_information_extraction", "task_config": {"result_schema": schema}}
    assert result.ocr.fields == {"seller": "emulated seller",
                                 "invoice": {"number": "emulated number", "date": "emulated date"}}
    assert result.ocr.ocr_result["kv_result"] == result.ocr.fields
    assert "invoice › number" in final_bundle(result)["text/html"]


def test_formulas_are_latex_shown_as_math(connect):
    result = qwen_jupyter.chat("", image=IMAGE, ocr="formula_recognition", **connect())
    assert result.ocr.formulas == [r"\int_0^1 x^2 \, dx = \frac{1}{3}"]
    assert "mathjax_process" in final_bundle(result)["text/html"]


def test_advanced_recognition_keeps_words_with_their_boxes(connect):
    result = qwen_jupyter.chat("", image=IMAGE, ocr="advanced_recognition", **connect())
    assert [w["text"] for w in result.ocr.words] == ["Emulated", "receipt"]
    assert len(result.ocr.words[0]["location"]) == 8


def test_plain_text_recognition_is_text(connect):
    result = qwen_jupyter.chat("", image=IMAGE, ocr="text_recognition", **connect())
    assert result.ocr.task == "text_recognition" and result.text.startswith("Emulated OCR text")
    assert result.ocr.tables == [] and result.ocr.fields == {}


def test_an_unknown_task_or_a_misplaced_schema_is_refused_before_sending():
    with pytest.raises(QwenError, match="built-in ones are"):
        prepare("", image=IMAGE, ocr="tables")
    with pytest.raises(QwenError, match="key_information_extraction only"):
        prepare("", image=IMAGE, ocr="table_parsing", ocr_schema={"a": "b"})
    request, _ = prepare("", image=IMAGE, ocr="TABLE_PARSING")  # the task's name in any case
    assert request.extra["ocr_options"] == {"task": "table_parsing"}


def test_the_emulator_refuses_ocr_without_an_image_or_on_a_model_without_tasks(connect, emu):
    import dashscope

    no_image = dashscope.MultiModalConversation.call(  # the toolkit refuses it before sending; the SDK does not
        model="qwen-vl-ocr-latest", messages=[{"role": "user", "content": [{"text": "read this"}]}],
        ocr_options={"task": "text_recognition"}, api_key=connect()["api_key"], base_address=emu.url + "/api/v1")
    assert no_image.status_code == 400 and "needs an image" in no_image.message
    old = qwen_jupyter.chat("", image=IMAGE, ocr="text_recognition", model="qwen-vl-ocr-2024-10-28", **connect())
    assert old.error is not None and old.error.status == 400


def test_an_ocr_task_reads_its_image_alone(connect, emu):
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "answer"}]
    qwen_jupyter.chat("", image=IMAGE, ocr="text_recognition", system="Be brief.", history=history,
                      **connect()).wait()
    (message,) = emu.state.received[-1]["body"]["input"]["messages"]
    assert message["role"] == "user"


def test_chat_reads_a_picture_with_no_prompt_and_refuses_nothing_at_all(connect, emu):
    result = qwen_jupyter.chat(image=IMAGE, ocr="table_parsing", **connect())
    assert result.error is None and len(result.ocr.tables) == 1
    sent = len(emu.state.received)
    with pytest.raises(QwenError, match="Nothing to ask"):
        qwen_jupyter.chat("  ", **connect())
    assert len(emu.state.received) == sent
