"""Model comparison: one request to several models at once, one result each, shown side by side."""

from __future__ import annotations

import time

import pytest

import qwen_jupyter
from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.views.compare import final_bundle, show_comparison


class _Publisher:
    def __init__(self):
        self.calls = []

    def display(self, bundle, raw=False, display_id=None):
        self.calls.append(("display", bundle))

    def update_display(self, bundle, raw=False, display_id=None):
        self.calls.append(("update", bundle))

    def clear_output(self, wait=False):
        self.calls.append(("clear", wait))


def test_each_model_answers_the_same_prompt_and_context(connect, emu):
    history = [{"role": "user", "content": "My name is Ada."}, {"role": "assistant", "content": "Hello Ada."}]
    comparison = qwen_jupyter.compare("Who are you?", "qwen-plus,qwen-max", history=history, **connect())
    assert comparison.models == ["qwen-plus", "qwen-max"] and not emu.state.received  # nothing sent yet
    comparison.wait()
    sent = [r["body"] for r in emu.state.received]
    assert sorted(b["model"] for b in sent) == ["qwen-max", "qwen-plus"]
    assert sent[0]["messages"] == sent[1]["messages"] and len(sent[0]["messages"]) == 3
    for model, result in comparison.results.items():
        assert result.model == model and result.error is None and result.usage.output_tokens
    assert comparison["qwen-max"].text == comparison["qwen-plus"].text  # the emulator's documented answer


def test_the_models_stream_at_the_same_time(connect):
    slow = "qwen-plus~long=400,chunk=20,slow=0.02"  # about 0.4 s each
    start = time.perf_counter()
    comparison = qwen_jupyter.compare("Tell a story", [slow, slow.replace("plus", "max")], **connect()).wait()
    assert time.perf_counter() - start < 0.75  # together, not one after the other
    assert all(len(r.text) == 400 for r in comparison)


def test_the_view_streams_columns_then_leaves_one_final_output_with_each_footer(connect):
    comparison = qwen_jupyter.compare("Who are you?", ["qwen-plus~slow=0.01", "qwen-max~slow=0.01"],
                                      **connect())
    publisher = _Publisher()
    show_comparison(comparison, rate=50, publisher=publisher)
    assert publisher.calls[0] == ("display", {})  # the live output starts empty (nbval does not compare it)
    assert any(kind == "update" for kind, _ in publisher.calls)
    assert publisher.calls[-2] == ("clear", True)
    final = publisher.calls[-1][1]
    html = final["text/html"]
    assert html.count('class="qwen-footer"') == 2 and "qwen-plus" in html and "qwen-max" in html
    assert "first token" in html and "total" in html and "<script" not in html
    assert "== qwen-max~slow=0.01 ==" in final["text/plain"]


def test_frame_has_a_row_per_model(connect):
    frame = qwen_jupyter.compare("Who are you?", ["qwen-plus", "qwen-flash"], **connect()).frame()
    assert list(frame.index) == ["qwen-plus", "qwen-flash"]
    assert (frame["output_tokens"] > 0).all() and frame["error"].isna().all()


def test_a_failing_model_keeps_the_others_answers(connect):
    comparison = qwen_jupyter.compare("Who are you?", ["qwen-plus", "qwen-nosuch~401"], **connect()).wait()
    assert comparison["qwen-plus"].ok and set(comparison.errors) == {"qwen-nosuch~401"}
    assert "⚠" in final_bundle(comparison)["text/html"]


@pytest.mark.parametrize("models", ["qwen-plus", "qwen-plus,qwen-plus", "a,b,c,d,e,f,g"])
def test_fewer_than_two_or_repeated_models_are_refused(models, connect):
    with pytest.raises(QwenError, match="Compare two to 6") as caught:
        qwen_jupyter.compare("hi", models, **connect())
    assert caught.value.code == "InvalidInput"


def test_leaving_a_with_block_stops_every_model(connect):
    slow = "qwen-plus~long=4000,chunk=20,slow=0.02"  # about 4 s each
    with qwen_jupyter.compare("Tell a story", [slow, slow.replace("plus", "max")], **connect()) as comparison:
        comparison.start()
        time.sleep(0.3)
    assert comparison.done and all(r.interrupted and 0 < len(r.text) < 4000 for r in comparison)


def test_functions_run_for_each_model_and_the_agent_is_refused_not_sent(connect, emu):
    def get_weather(city: str) -> str:
        """The weather in a city.

        Args:
            city: The city.
        """
        return f"Sunny in {city}"

    comparison = qwen_jupyter.compare("What is the weather in 'Lisbon'?", "qwen-plus,qwen-max", tools=[get_weather],
                                      **connect())
    comparison.wait()
    for result in comparison.results.values():
        assert [c.output for c in result.tool_calls] == ["Sunny in Lisbon"]
    with pytest.raises(QwenError, match="compare without --agent or --confirm"):
        qwen_jupyter.compare("Run `1 + 1`", "qwen-plus,qwen-max", agent=True, **connect())
    assert all("agent" not in r["body"] for r in emu.state.received)  # never an API parameter
