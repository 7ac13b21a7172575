"""The panel's Python side against the emulator: deltas and blocks, stop, images, hostile text, fallback."""

from __future__ import annotations

import json
import time

import pytest

from qwen_jupyter.core.settings import Settings
from qwen_jupyter.panel import QwenPanel
from qwen_jupyter.state.session import Session
from qwen_jupyter.state.store import Store

from .conftest import KEY


def _tags(html: str) -> list[tuple[str, dict]]:
    from html.parser import HTMLParser

    found: list[tuple[str, dict]] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, dict(attrs)))

    Parser().feed(html)
    return found


class RecordingPanel(QwenPanel):
    """The real panel, keeping a copy of each custom message it sends to the front end."""

    def __init__(self, *args, **kwargs):
        self.sent_messages: list[dict] = []
        super().__init__(*args, **kwargs)

    def send(self, content, buffers=None):
        self.sent_messages.append(content)
        super().send(content, buffers)


@pytest.fixture
def make_panel(emu):
    def make(model="qwen-plus", chat="default", session=None):
        session = session or Session("panel-test.ipynb", Store(":memory:"))
        return RecordingPanel(session, lambda: Settings(base_url=emu.url, api_key=KEY), chat=chat, model=model)

    return make


def test_answer_streams_as_deltas_and_sealed_blocks(make_panel):
    panel = make_panel("qwen-plus~long=3000,chunk=5,slow=0.0005")
    result = panel.ask("Tell me a story")
    panel.wait(30)
    assert result.error is None and not panel.busy and panel.live == {}
    messages = panel.sent_messages
    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
    deltas = "".join(m["text"] for m in messages if m["type"] == "delta")
    assert deltas == result.text
    blocks = [m for m in messages if m["type"] == "block"]
    assert blocks and all(m["html"].startswith('<div class="qwen-text') for m in blocks)
    sent = sum(len(json.dumps(m)) for m in messages)
    assert sent < 4 * len(result.text)  # deltas once, blocks once: O(answer)
    turn = panel.turns[-1]
    assert "The emulator streams this text" in turn["answer_html"] and turn["status"] == "ok"
    assert "emulated" in turn["footer"] and panel.total_tokens > 0 and panel.last is result


def test_reasoning_and_answer_arrive_separately(make_panel):
    panel = make_panel()
    panel.thinking = True
    result = panel.ask("Why is the sky blue?")
    panel.wait(30)
    kinds = {m["kind"] for m in panel.sent_messages}
    assert kinds == {"reasoning", "answer"} and result.reasoning
    assert "Okay, the user asks" in panel.turns[-1]["reasoning_html"]


def test_stop_ends_the_stream_and_keeps_the_partial_answer(make_panel, emu):
    panel = make_panel("qwen-plus~long=20000,chunk=4,slow=0.002")
    result = panel.ask("A long answer")
    deadline = time.monotonic() + 10
    while not any(m["type"] == "delta" for m in panel.sent_messages) and time.monotonic() < deadline:
        time.sleep(0.01)
    stopped_at = time.monotonic()
    panel.stop()
    panel.wait(10)
    assert time.monotonic() - stopped_at < 1.0
    assert result.interrupted and 0 < len(result.text) < 20000
    assert panel.turns[-1]["status"] == "interrupted" and not panel.busy
    time.sleep(0.2)
    assert emu.state.disconnected


@pytest.mark.parametrize("api", ["openai", "responses", "dashscope"])
def test_stop_ends_a_stalled_stream_at_once(emu, api):
    session = Session("panel-test.ipynb", Store(":memory:"))
    panel = RecordingPanel(session, lambda: Settings(api=api, base_url=emu.url, api_key=KEY),
                           model="qwen-plus~slow=0.02,stall=10,stall-seconds=30")  # deltas sent, then quiet
    result = panel.ask("hello there dear friend")
    deadline = time.monotonic() + 10
    while not any(m["type"] == "delta" for m in panel.sent_messages) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert any(m["type"] == "delta" for m in panel.sent_messages)
    time.sleep(0.5)  # the service has gone quiet; the worker waits on its socket
    stopped_at = time.monotonic()
    panel.stop()
    panel.wait(10)
    assert time.monotonic() - stopped_at < 1.0 and not panel.busy
    assert result.interrupted and result.text.startswith("**[emulated")
    turn = session.chats["default"].turns[-1]
    assert panel.turns[-1]["status"] == "interrupted"
    assert turn.status == "interrupted" and turn.assistant.text == result.text
    assert len(emu.received) == 1


def test_images_are_sent_and_shown_as_thumbnails(make_panel, emu):
    from PIL import Image

    panel = make_panel("qwen-vl-max")
    result = panel.ask("What is this?", images=[Image.new("RGB", (30, 30), "red")])
    panel.wait(30)
    assert "I received 1 image" in result.text
    assert emu.received[-1]["body"]["messages"][-1]["content"][0]["type"] == "image_url"
    assert panel.turns[-1]["images"].startswith('<div class="qwen-inputs qwen-text tex2jax_ignore mathjax_ignore"><img src="data:image/png;base64,')


def test_hostile_model_text_is_sanitized(make_panel):
    panel = make_panel()
    panel.ask('<img src=x onerror="alert(1)"> [x](javascript:alert(1)) <script>alert(2)</script>')
    panel.wait(30)
    html = panel.turns[-1]["answer_html"] + "".join(m.get("html", "") for m in panel.sent_messages)
    tags = _tags(html)
    assert {tag for tag, _ in tags} <= {"div", "p", "strong", "ul", "li"}  # no img, script or link was created
    assert all(not any(name.startswith("on") for name in attrs) for _, attrs in tags)
    assert "&lt;img src=x" in html and "javascript:alert(1)" in html  # shown as text, not lost


def test_conversation_is_shared_and_the_output_has_a_static_transcript(make_panel):
    session = Session("shared.ipynb", Store(":memory:"))
    first = make_panel(chat="trip", session=session)
    first.ask("Plan a trip to Hangzhou")
    first.wait(30)
    second = make_panel(chat="trip", session=session)  # e.g. %qwen panel trip, or %%qwen -c trip
    assert len(second.turns) == 1
    result = second.ask("And the food?")
    second.wait(30)
    assert [m["role"] for m in result.messages] == ["user", "assistant", "user"]
    bundle = second._repr_mimebundle_()
    assert bundle["text/plain"] == "QwenPanel(chat='trip', turns=2)"
    assert "<b>You:</b> Plan a trip to Hangzhou" in bundle["text/markdown"]
    assert bundle["text/html"] == bundle["text/markdown"] and "\n" not in bundle["text/html"]
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == second.model_id
    second.new_conversation()
    assert second.turns == [] and session.chats.get("trip") is None


def test_controls_reach_the_request(make_panel, emu):
    panel = make_panel()
    panel.thinking, panel.budget, panel.search = True, 40, True
    panel.ask("news please")
    panel.wait(30)
    body = emu.received[-1]["body"]
    assert body["enable_thinking"] is True and body["thinking_budget"] == 40 and body["enable_search"] is True


def test_a_result_the_panel_streams_is_never_read_by_a_second_thread(make_panel):
    panel = make_panel("qwen-plus~long=3000,chunk=5,slow=0.001")
    result = panel.ask("Tell me a story")
    assert result.streaming  # at once: a cell displaying it shows its repr instead of reading it
    result.wait()  # from this thread: waits for the worker, never "generator already executing"
    panel.wait(30)
    assert result.error is None and len(result.text) == 3000 and panel.turns[-1]["status"] == "ok"


def test_asking_a_busy_panel_is_a_clear_error(make_panel):
    from qwen_jupyter.core.errors import QwenError

    panel = make_panel("qwen-plus~long=3000,chunk=5,slow=0.002")
    panel.ask("first")
    with pytest.raises(QwenError, match="still answering"):
        panel.ask("second")
    panel.stop()
    panel.wait(30)
    with pytest.raises(QwenError, match="Nothing to ask"):
        panel.ask("   ")


def test_the_panel_recovers_when_its_worker_fails(make_panel, reliability):
    panel = make_panel()

    def broken_record(*args, **kwargs):
        raise RuntimeError("disk on fire")

    real_record = panel.session.record
    panel.session.record = broken_record  # the failure lands in the worker thread, after the answer streamed
    panel.ask("First question")
    panel.wait(30)
    failed = panel.busy or panel.turns[-1]["status"] != "error" or "disk on fire" not in panel.turns[-1]["error"]
    panel.session.record = real_record
    result = panel.ask("Second question")  # the panel takes the next question
    panel.wait(30)
    failed = failed or result.error is not None or panel.turns[-1]["status"] != "ok"
    reliability.add("Faults", "panel worker failure", tried=1, failed=int(failed))
    assert not failed, panel.turns


def test_retry_and_edit_replace_the_last_answer(make_panel, emu):
    panel = make_panel()
    panel.ask("What is 2+2?")
    panel.wait(30)
    first = panel.turns[-1]
    assert first["retry"] and first["answer_md"] and first["answer_md"] in panel.last.text
    panel.retry()
    panel.wait(30)
    assert len(panel.turns) == 1 and panel.turns[0]["id"] == first["id"]  # in place, with its context only
    assert [m["role"] for m in emu.received[-1]["body"]["messages"]] == ["user"]
    panel.retry("What is 3+3?")  # edit and resend
    panel.wait(30)
    assert len(panel.turns) == 1 and panel.turns[0]["user"] == "What is 3+3?"
    assert "3+3" in panel.turns[0]["answer_md"]


def test_retry_asks_a_failed_question_again_in_its_place(make_panel):
    from qwen_jupyter.core.errors import QwenError

    panel = make_panel("qwen-plus~moderation")
    panel.ask("Something the server refuses")
    panel.wait(30)
    assert panel.turns[-1]["status"] == "error" and panel.turns[-1]["retry"]
    panel.model = "qwen-plus"
    panel.retry()
    panel.wait(30)
    assert len(panel.turns) == 1 and panel.turns[0]["status"] == "ok"
    assert panel.turns[0]["user"] == "Something the server refuses"
    panel._on_message(panel, {"type": "new"}, [])
    with pytest.raises(QwenError, match="Nothing to retry"):
        panel.retry()


def test_a_panel_remembers_its_model_and_options_per_chat(make_panel):
    session = Session("options.ipynb", Store(":memory:"))
    first = QwenPanel(session, lambda: None, chat="maths", default_model="qwen-plus")
    first.model, first.thinking, first.budget, first.search = "qwen3-max", True, 300, True
    again = QwenPanel(session, lambda: None, chat="maths", default_model="qwen-plus")
    other = QwenPanel(session, lambda: None, chat="other", default_model="qwen-plus")
    named = QwenPanel(session, lambda: None, chat="maths", model="qwen-flash")
    assert (again.model, again.thinking, again.budget, again.search) == ("qwen3-max", True, 300, True)
    assert (other.model, other.budget, other.search) == ("qwen-plus", 0, False)
    assert named.model == "qwen-flash" and named.budget == 0  # a model asked for by name starts at its defaults
    assert again.widget_id == again.model_id


def test_katex_is_sent_whole_from_the_package(make_panel):
    panel = make_panel()
    panel._on_message(panel, {"type": "katex"}, [])
    sent = panel.sent_messages[-1]
    assert sent["type"] == "katex" and "export default module.exports" in sent["script"]
    assert "url(fonts/" not in sent["css"] and sent["css"].count("data:font/woff2;base64,") == 20


def test_the_tools_picker_offers_the_notebooks_functions_and_runs_the_chosen(emu):
    namespace = {"__name__": "__main__"}
    exec(  # noqa: S102 - functions defined as a notebook cell defines them
        "def get_weather(city: str) -> str:\n    '''The weather.'''\n    return f'sunny in {city}'\n"
        "def _private(): pass\nimport json\n", namespace)
    session = Session("panel-tools.ipynb", Store(":memory:"))
    panel = RecordingPanel(session, lambda: Settings(base_url=emu.url, api_key=KEY), namespace=namespace)
    assert panel.tool_names == ["get_weather"]
    exec("def get_time(city: str) -> str:\n    '''The time.'''\n    return '12:00'\n", namespace)  # noqa: S102
    panel._on_message(panel, {"type": "tools"}, [])  # the picker opened
    assert panel.tool_names == ["get_time", "get_weather"]
    panel.tools = ["get_weather"]
    live_tools = []
    panel.observe(lambda change: live_tools.append(change["new"].get("tools_html", "")), names="live")
    result = panel.ask("Weather in Hangzhou")
    panel.wait(30)
    assert result.error is None and result.tool_calls[0].output == "sunny in Hangzhou"
    assert any("running…" in h for h in live_tools) and any("✓" in h for h in live_tools)
    finished = panel.turns[-1]
    assert "qwen-tool-call" in finished["tools_html"] and "sunny in Hangzhou" in finished["tools_html"]
    assert "qwen-tool-call" in panel.transcript()
    assert emu.received[0]["body"]["tools"][0]["function"]["name"] == "get_weather"


def test_probabilities_shade_the_panels_answer_token_by_token(make_panel, emu):
    panel = make_panel()
    panel.probabilities = True
    result = panel.ask("Why is the sky blue?")
    panel.wait(30)
    assert result.error is None and result.logprobs
    assert emu.received[-1]["body"]["logprobs"] is True and emu.received[-1]["body"]["top_logprobs"] == 3
    html = panel.turns[-1]["answer_html"]
    assert html.count("title=") >= len(result.logprobs) // 2 and "<script" not in html
    assert panel.turns[-1]["answer_md"] == result.text  # Copy gives the Markdown, not the shading


def test_trait_changes_from_two_threads_are_all_sent(make_panel):
    import threading

    panel = make_panel()
    sent: list[dict] = []
    panel._send = lambda msg, buffers=None: sent.append(msg)  # what would go to the front end
    stop = threading.Event()

    def front_end() -> None:  # the subshell applying the front end's updates, as a draft being typed
        for n in range(3000):
            panel.set_state({"draft": f"typed {n}"})
        stop.set()

    thread = threading.Thread(target=front_end)
    thread.start()
    n = 0
    while not stop.is_set():  # the worker finishing turns meanwhile
        n += 1
        with panel.hold_sync():
            panel.total_tokens = n
            panel.busy = n % 2 == 0
    thread.join()
    with panel.hold_sync():
        panel.total_tokens = n + 1
    tokens = [m["state"]["total_tokens"] for m in sent if "total_tokens" in m.get("state", {})]
    assert tokens == list(range(1, n + 2)), (len(tokens), n)  # every change, in order: none merged or dropped


def test_every_edit_of_the_last_question_shows_the_new_one(make_panel):
    panel = make_panel()
    panel.ask("q0")
    panel.wait(30)
    for n in range(1, 25):  # replaced turns are freed: a cache keyed by id() showed an old one again
        panel.retry(f"q{n}")
        panel.wait(30)
        assert panel.turns[-1]["user"] == f"q{n}" and f"q{n}" in panel.turns[-1]["answer_md"]
