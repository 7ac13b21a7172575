"""The panel's documents, translation and model comparison, against the emulator (the same paths as %%qwen)."""

from __future__ import annotations

import base64
import json
import pathlib
import time

import pytest

from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.core.settings import Settings
from qwen_jupyter.engine.comparison import Comparison
from qwen_jupyter.panel import QwenPanel
from qwen_jupyter.state.session import Session
from qwen_jupyter.state.store import Store

from .conftest import KEY
from .test_panel import RecordingPanel, _tags

SLOW = "~long=3000,chunk=4,slow=0.001"


@pytest.fixture(autouse=True)
def own_uploads(tmp_path, monkeypatch, emu):
    """The uploads cache in this test's folder, and an emulator with no stored files, before and after."""
    monkeypatch.setenv("QWEN_JUPYTER_DB", str(tmp_path / "qwen.db"))
    emu.state.files.clear()
    yield
    emu.state.files.clear()


@pytest.fixture
def make_panel(emu):
    def make(model="qwen-plus", chat="default", session=None, **kwargs):
        session = session or Session("panel-specialised.ipynb", Store(":memory:"))
        return RecordingPanel(session, lambda: Settings(base_url=emu.url, api_key=KEY), chat=chat, model=model,
                              **kwargs)

    return make


@pytest.fixture
def notes(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Qwen-Long reads long documents. This one is short.\nSecond line.", encoding="utf-8")
    return path


def _uploads(emu) -> list[str]:
    return [r["path"] for r in emu.received if r["method"] == "POST" and r["path"].endswith("/files")]


def test_a_document_goes_to_qwen_long_once_and_shows_as_a_chip(make_panel, notes, emu):
    panel = make_panel()
    result = panel.ask("What is this about?", documents=[notes])
    panel.wait(30)
    assert result.error is None and result.model == "qwen-long"
    assert "I read 1 document: notes.txt" in result.text and len(emu.state.files) == 1
    file_id = next(iter(emu.state.files))
    assert [m.text for m in result.sent if m.role == "system"] == [f"fileid://{file_id}"]
    assert panel.turns[-1]["documents"] == ["notes.txt"] and "[notes.txt]" in panel.transcript()
    uploads = len(_uploads(emu))
    # The front end's way: the name and the bytes in base64; the same content is not uploaded again.
    data = base64.b64encode(notes.read_bytes()).decode()
    panel._on_message(panel, {"type": "send", "text": "And the second line?",
                              "documents": [{"name": "notes.txt", "data": data}]}, [])
    panel.wait(30)
    assert panel.turns[-1]["status"] == "ok" and "I read 1 document" in panel.last.text
    assert len(_uploads(emu)) == uploads and len(emu.state.files) == 1
    assert panel.turns[-1]["documents"] == ["notes.txt"]
    panel.retry()  # asked again in its place, with its document (nothing uploaded)
    panel.wait(30)
    assert "I read 1 document" in panel.last.text and len(_uploads(emu)) == uploads


def test_a_follow_up_in_the_panel_is_about_the_chats_documents(make_panel, notes, emu):
    panel = make_panel()
    panel.ask("What is this about?", documents=[notes])
    panel.wait(30)
    file_id = next(iter(emu.state.files))
    follow = panel.ask("And the second line?")  # nothing attached this time
    panel.wait(30)
    assert follow.error is None and follow.model == "qwen-long" and "I read 1 document: notes.txt" in follow.text
    assert [m.text for m in follow.sent if m.role == "system"] == [f"fileid://{file_id}"]
    assert [m.role for m in follow.sent if m.role != "system"] == ["user", "assistant", "user"]
    assert len(emu.state.files) == 1
    panel.model = "qwen-max"  # a model picked since: the person asks it, without the documents
    other = panel.ask("A haiku")
    panel.wait(30)
    assert other.model == "qwen-max" and not [m for m in other.sent if m.role == "system"]
    panel.model = "qwen-plus"
    panel.ask("What is this about?", documents=[notes])
    panel.wait(30)
    panel.new_conversation()
    fresh = panel.ask("Hello")
    panel.wait(30)
    assert fresh.model == "qwen-plus" and not [m for m in fresh.sent if m.role == "system"]


def test_an_unsupported_document_fails_in_one_line_before_any_upload(make_panel, notes, emu):
    panel = make_panel()
    data = base64.b64encode(b"MZ\x90\x00 not a document").decode()
    panel._on_message(panel, {"type": "send", "text": "Read these",
                              "documents": [{"name": "notes.txt", "data": base64.b64encode(b"fine").decode()},
                                            {"name": "setup.exe", "data": data}]}, [])
    failed = panel.turns[-1]
    assert failed["status"] == "error" and failed["user"] == "Read these" and not panel.busy
    assert failed["error"].startswith("setup.exe: qwen-long reads") and "\n" not in failed["error"]
    assert emu.received == [] and emu.state.files == {}  # checked first: the good one was not uploaded either
    with pytest.raises(QwenError, match="empty"):
        panel.ask("Read it", documents=[("empty.txt", b"")])
    with pytest.raises(QwenError, match="Nothing to ask"):
        panel.ask("  ", documents=[notes])
    assert emu.received == []


def test_translate_to_sends_translation_options_and_no_history(make_panel, emu):
    panel = make_panel()
    panel.ask("Plan a trip to Hangzhou")
    panel.wait(30)
    panel.translate_to, panel.thinking, panel.search = "English", True, True
    result = panel.ask("我看到这个视频后没有笑")
    panel.wait(30)
    assert result.error is None and result.model == "qwen-mt-plus"
    assert result.text == "[English, emulated] 我看到这个视频后没有笑"
    body = emu.received[-1]["body"]
    assert body["messages"] == [{"role": "user", "content": "我看到这个视频后没有笑"}]  # the text alone
    assert body["translation_options"] == {"source_lang": "auto", "target_lang": "English"}
    assert "enable_thinking" not in body and "enable_search" not in body
    assert panel.turns[-1]["status"] == "ok" and "[English, emulated]" in panel.turns[-1]["answer_html"]
    with pytest.raises(QwenError, match="Translation takes the text alone"):
        panel.ask("Translate this file", documents=[("a.txt", b"hello")])
    assert "languages" in panel.keys and "English" in panel.languages and "translate_to" in panel.keys
    panel.translate_to = None  # off, as a person writes it in Python (it was a TraitError, and later asks failed)
    assert panel.translate_to == ""
    after = panel.ask("And in Chinese?")
    panel.wait(30)
    assert after.error is None and after.model == "qwen-plus" and "translation_options" not in emu.received[-1]["body"]


def test_compare_streams_each_model_in_its_column_and_keeps_one_result_each(emu):
    session = Session("panel-compare.ipynb", Store(":memory:"))
    seen = []
    panel = RecordingPanel(session, lambda: Settings(base_url=emu.url, api_key=KEY), model="qwen-plus" + SLOW,
                           on_result=seen.append)
    panel.ask("Plan a trip to Hangzhou")  # a turn of the chat: both models get it as context
    panel.wait(30)
    lives = []
    panel.observe(lambda change: lives.append(change["new"]), names="live")
    panel.compare_with = ["qwen-flash" + SLOW]
    panel.sent_messages.clear()
    comparison = panel.ask("And the food?")
    assert isinstance(comparison, Comparison) and panel.last is comparison and seen[-1] is comparison
    panel.wait(30)
    assert not panel.busy and panel.live == {} and comparison.done
    assert [r.error for r in comparison] == [None, None] and len(comparison) == 2
    assert [m["role"] for m in emu.received[-1]["body"]["messages"]] == ["user", "assistant", "user"]
    columns = lives[0]["columns"]
    assert [c["model"] for c in columns] == comparison.models == ["qwen-plus" + SLOW, "qwen-flash" + SLOW]
    messages = panel.sent_messages
    assert [m["seq"] for m in messages] == list(range(messages[0]["seq"], messages[0]["seq"] + len(messages)))
    for column, result in enumerate(comparison):
        deltas = "".join(m["text"] for m in messages if m["type"] == "delta" and m["column"] == column)
        assert deltas == result.text and len(result.text) == 3000
    assert sum(len(json.dumps(m)) for m in messages) < 4 * sum(len(r.text) for r in comparison)  # O(answers)
    assert len(session.chats["default"].turns) == 1  # the comparison is not a turn of the chat
    finished = panel.turns[-1]
    assert finished["compare"] and finished["status"] == "ok" and finished["retry"]
    assert finished["answer_html"].count("emulated") >= 2 and "qwen-compare" in panel.transcript()
    assert all(name in finished["answer_html"] for name in comparison.models)


def test_compared_answers_are_sanitized(make_panel):
    panel = make_panel()
    panel.compare_with = ["qwen-flash"]
    comparison = panel.ask('<img src=x onerror="alert(1)"> [x](javascript:alert(1)) <script>alert(2)</script>')
    panel.wait(30)
    html = panel.turns[-1]["answer_html"] + "".join(m.get("html", "") for m in panel.sent_messages)
    tags = _tags(html)
    assert not {tag for tag, _ in tags} & {"img", "script", "a", "iframe"}
    assert all(not any(name.startswith("on") for name in attrs) for _, attrs in tags)
    assert html.count("&lt;img src=x") >= len(comparison) and "<script" not in html


def test_stop_during_a_comparison_stops_every_model(make_panel, emu):
    slow = "~long=20000,chunk=4,slow=0.002"
    panel = make_panel("qwen-plus" + slow)
    panel.compare_with = ["qwen-flash" + slow]
    comparison = panel.ask("A long answer from both")
    deadline = time.monotonic() + 10
    while {m.get("column") for m in panel.sent_messages} != {0, 1} and time.monotonic() < deadline:
        time.sleep(0.01)
    stopped_at = time.monotonic()
    panel.stop()
    panel.wait(10)
    assert time.monotonic() - stopped_at < 2.0 and not panel.busy
    assert all(r.interrupted and 0 < len(r.text) < 20000 for r in comparison)
    assert panel.turns[-1]["status"] == "interrupted" and panel.turns[-1]["compare"]


def test_stop_during_a_comparison_ends_a_model_whose_stream_stalled(make_panel, emu):
    panel = make_panel("qwen-plus~long=20000,chunk=4,slow=0.002")
    panel.compare_with = ["qwen-flash~stall=2,stall-seconds=30"]
    comparison = panel.ask("A long answer from both")
    deadline = time.monotonic() + 10
    while {m.get("column") for m in panel.sent_messages} != {0, 1} and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    stopped_at = time.monotonic()
    panel.stop()
    panel.wait(10)
    assert time.monotonic() - stopped_at < 1.0 and not panel.busy
    assert all(r.interrupted and r.text for r in comparison)


def test_compare_refuses_too_many_models_in_one_line(make_panel, emu):
    panel = make_panel()
    panel.compare_with = ["qwen-flash", "qwen3-max", "qwen3.5-plus", "qwen-vl-max", "qvq-max", "qwen-long"]
    with pytest.raises(QwenError, match="Compare two to 6 different models"):
        panel.ask("Hello")
    assert emu.received == [] and not panel.busy
    panel.compare_with = [panel.model]  # only itself: an ordinary ask, recorded
    assert not isinstance(panel.ask("Hello"), Comparison)
    panel.wait(30)
    assert len(panel.session.chats["default"].turns) == 1


def test_translation_and_comparison_are_remembered_per_chat():
    session = Session("options.ipynb", Store(":memory:"))
    first = QwenPanel(session, lambda: None, chat="maths", default_model="qwen-plus")
    first.translate_to, first.compare_with = "French", ["qwen-flash", "qwen3-max"]
    again = QwenPanel(session, lambda: None, chat="maths", default_model="qwen-plus")
    other = QwenPanel(session, lambda: None, chat="other", default_model="qwen-plus")
    assert (again.translate_to, again.compare_with) == ("French", ["qwen-flash", "qwen3-max"])
    assert (other.translate_to, other.compare_with) == ("", [])


def test_an_attachment_that_cannot_be_read_is_a_one_line_error(make_panel, emu):
    panel = make_panel()
    for bad in ({"documents": ["x"]}, {"documents": [{"name": "a.txt", "data": "abc"}]},
                {"documents": None, "images": ["no comma"]}, {"documents": [{"name": "a.txt", "data": 5}]}):
        panel._on_message(panel, {"type": "send", "text": "Read it", **bad}, [])
        failed = panel.turns[-1]
        assert failed["status"] == "error" and failed["error"].startswith("An attachment could not be read")
    assert emu.received == [] and not panel.busy
    with pytest.raises(QwenError, match=r"\(name, bytes\), not \(name, int\)"):
        panel.ask("Read it", documents=[("a.txt", 10**9)])  # not a gigabyte of zeros


def test_retry_of_a_comparison_while_busy_keeps_it(make_panel, emu):
    from tests.pictures import house_png

    panel = make_panel("qwen-vl-max")
    panel.compare_with = ["qwen3-vl-plus"]
    panel.ask("", images=[house_png()])  # a picture alone
    panel.wait(30)
    shown = panel.turns[-1]
    assert shown["compare"] and shown["retry"]
    panel.busy = True
    with pytest.raises(QwenError, match="still answering"):
        panel.retry()
    assert panel.turns[-1]["id"] == shown["id"]  # not dropped before the refusal
    panel.busy = False
    again = panel.retry()
    panel.wait(30)
    assert all("I received 1 image" in r.text for r in again)  # its picture asked again


def test_a_comparison_needs_models_that_take_what_is_asked(make_panel, notes, emu):
    panel = make_panel()
    panel.compare_with = ["qwen-max"]
    with pytest.raises(QwenError, match="qwen-plus, qwen-max cannot answer this .it needs a qwen-long or qwen-doc"):
        panel.ask("Summarise", documents=[notes])
    from tests.pictures import house_png

    with pytest.raises(QwenError, match="qwen-plus takes text only"):
        panel.ask("What is this?", images=[house_png()])
    panel.translate_to = "French"
    with pytest.raises(QwenError, match="Translate or compare, not both"):
        panel.ask("Hello")
    assert not panel.busy and emu.received == []  # refused before any upload or request


def test_the_panel_says_it_is_uploading_and_send_waits(make_panel, notes):
    panel = make_panel()
    seen = []
    panel.observe(lambda change: seen.append((change["new"], panel.busy)), names=["live"])
    panel.ask("What is this?", documents=[notes])
    panel.wait(30)
    uploading = [state for state, busy in seen if "Uploading notes.txt" in state.get("answer_tail", "")]
    assert uploading and uploading[0]["user"] == "What is this?" and uploading[0]["documents"] == ["notes.txt"]
    assert all(busy for state, busy in seen if state.get("id") == "uploading")


def test_a_refused_question_keeps_its_attachments_for_retry(make_panel, emu):
    from tests.pictures import house_png

    panel = make_panel("qwen-vl-max")
    panel.compare_with, panel.translate_to = ["qwen3-vl-plus"], "French"
    picture = "data:image/png;base64," + base64.b64encode(pathlib.Path(house_png()).read_bytes()).decode()
    panel._on_message(panel, {"type": "send", "text": "What is this?", "images": [picture]}, [])
    refused = panel.turns[-1]
    assert refused["error"].startswith("Translate or compare, not both") and refused["retry"]
    assert refused["images"].count("<img") == 1 and emu.received == []
    panel._on_message(panel, {"type": "retry"}, [])  # refused again: the question and its picture kept again
    again = panel.turns[-1]
    assert again["user"] == "What is this?" and again["images"].count("<img") == 1
    assert [t["id"] for t in panel.turns].count(refused["id"]) == 0 and len(panel.turns) == 1  # in its place
    panel.translate_to = ""
    both = panel.retry()
    panel.wait(30)
    assert all("I received 1 image" in r.text for r in both)  # the picture went to both models

    note = {"name": "notes.txt", "data": base64.b64encode(b"Bonjour").decode()}
    panel.compare_with, panel.translate_to = [], "French"
    panel._on_message(panel, {"type": "send", "text": "What is it?", "documents": [note]}, [])
    assert panel.turns[-1]["error"].startswith("Translation takes the text alone")
    assert panel.turns[-1]["documents"] == ["notes.txt"] and not emu.state.files
    panel.translate_to = ""
    read = panel.retry()
    panel.wait(30)
    assert read.model == "qwen-long" and "I read 1 document: notes.txt" in read.text


def test_a_failure_after_a_comparison_keeps_its_columns(make_panel):
    panel = make_panel()
    panel.compare_with = ["qwen-flash"]

    broken = [True]

    def broken_display():
        if broken.pop() if broken else False:
            raise RuntimeError("display gone")

    panel._update_display = broken_display  # fails once in the worker, when the comparison has ended
    panel.ask("Who are you?")
    panel.wait(30)
    del panel._update_display
    failed = panel.turns[-1]
    assert not panel.busy and failed["status"] == "error" and "display gone" in failed["error"]
    assert failed["answer_html"].count('class="qwen-footer"') == 2  # both answers still shown
