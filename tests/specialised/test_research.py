"""Deep research: the clarifying turn, the research turn with its phases, references and report; native API."""

from __future__ import annotations

import pytest

import qwen_jupyter
from qwen_jupyter.core.events import ReasoningDelta, ResearchProgress
from qwen_jupyter.views.layout import final_bundle

TOPIC = "Battery recycling in Europe"


def test_the_first_turn_asks_clarifying_questions(connect, emu):
    result = qwen_jupyter.chat(TOPIC, model="qwen-deep-research", **connect("openai"))
    assert result.error is None and result.api == "dashscope"  # deep research is native only
    assert result.text.startswith(f'To research "{TOPIC}" well, a few questions first')
    assert result.search_results == () and result.research == []
    assert emu.state.received[-1]["path"].endswith("text-generation/generation")


def test_the_research_turn_shows_phases_rounds_references_and_the_report(connect):
    history = [{"role": "user", "content": TOPIC},
               {"role": "assistant", "content": "Which aspect matters most?"}]
    result = qwen_jupyter.chat("Costs and policy, last five years, for a ministry.", model="qwen-deep-research",
                               history=history, **connect())
    assert result.error is None and result.finish_reason == "stop"
    phases = [e.phase for e in result.events if isinstance(e, ResearchProgress) and e.round is None]
    assert phases == ["ResearchPlanning", "WebResearch", "answer"]  # KeepAlive heartbeats are not phases
    assert any(isinstance(e, ReasoningDelta) for e in result.events)  # the plan, shown as reasoning
    assert [r["round"] for r in result.research] == [1, 2]
    assert result.research[0]["goal"] == f"Background of {TOPIC}" and len(result.research[0]["sites"]) == 2
    assert [s.index for s in result.search_results] == [1, 2, 3, 4]
    assert result.text.startswith(f"# {TOPIC}\n\n## Summary") and "## Conclusion" in result.text
    assert result.usage.input_tokens and result.usage.output_tokens
    html = final_bundle(result)["text/html"]
    assert "<h1>" in html and 'class="qwen-sources"' in html and '<li value="4">' in html


def test_a_non_streamed_research_request_is_refused_as_the_service_does(connect):
    result = qwen_jupyter.chat(TOPIC, model="qwen-deep-research", stream=False, **connect())
    assert result.error is not None and result.error.status == 400 and "stream mode" in result.error.message


@pytest.mark.parametrize("fault", ["drop=3", "error_at=4"])
def test_a_research_stream_cut_short_keeps_what_came(fault, connect):
    result = qwen_jupyter.chat(TOPIC, model=f"qwen-deep-research~{fault}", **connect())
    assert result.error is not None and result.text


def test_a_terminal_shows_the_phases_as_lines(connect):
    import io

    from qwen_jupyter.views.terminal import TerminalView

    history = [{"role": "user", "content": TOPIC}, {"role": "assistant", "content": "Which aspect?"}]
    result = qwen_jupyter.chat("Costs.", model="qwen-deep-research", history=history, **connect())
    out = io.StringIO()
    view = TerminalView(out)
    view.run(result)
    view.finish(result)
    text = out.getvalue()
    assert "[Planning]" in text and "[Researching the web · round 1 · Background of" in text and "## Summary" in text
    assert "work.\n[Researching the web]\n" in text  # a phase starts a line of its own after the plan
    assert text.count("round 1 · Background of") == 1 and "\n\n\n" not in text
    assert "\n[4] Emulated source 2.2 on Battery recycling" in text  # what the report's [n] point to


def test_achat_sends_the_report_format_that_the_sync_sdk_call_drops(connect, emu):
    import asyncio

    history = [{"role": "user", "content": TOPIC}, {"role": "assistant", "content": "Which aspect?"}]
    result = asyncio.run(qwen_jupyter.achat("Costs.", model="qwen-deep-research", history=history,
                                            output_format="model_summary_report", **connect()))
    assert emu.state.received[-1]["body"]["parameters"]["output_format"] == "model_summary_report"
    assert "## Summary" in result.text and "## Background" not in result.text


def test_research_in_a_busy_chat_is_sent_only_its_own_exchange(connect, emu):
    assert qwen_jupyter.chat("Bonjour, ça va?", conversation="busy", **connect()).text
    first = qwen_jupyter.chat(TOPIC, model="qwen-deep-research", conversation="busy", **connect())
    assert "a few questions first" in first.text  # a new topic, not the chat's first question
    assert [m["content"] for m in emu.state.received[-1]["body"]["input"]["messages"]] == [TOPIC]
    report = qwen_jupyter.chat("Costs and policy.", model="qwen-deep-research", conversation="busy", **connect())
    assert report.text.startswith(f"# {TOPIC}")
    later = qwen_jupyter.chat("And in one line?", conversation="busy", **connect())
    assert later.error is None and len(emu.state.received[-1]["body"]["messages"]) == 7  # everything, to others


def test_a_chat_can_research_one_topic_after_another(connect, emu):
    def ask(text):
        return qwen_jupyter.chat(text, model="qwen-deep-research", conversation="topics", **connect()).wait()

    assert "a few questions first" in ask("Tea history").text
    assert ask("The British Empire, for a class.").text.startswith("# Tea history")
    assert "To research \"Coffee in Ethiopia\"" in ask("Coffee in Ethiopia").text  # a new topic: asked about first
    assert ask("Trade routes.").text.startswith("# Coffee in Ethiopia")
