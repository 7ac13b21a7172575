"""Python functions as tools, run by the toolkit round after round on every API, against the emulator."""

from __future__ import annotations

import json

import pytest

import qwen_jupyter
from tests.conftest import APIS


def get_weather(city: str, days: int = 1) -> dict:
    """The forecast for a city.

    Args:
        city: The city's name.
        days: How many days ahead.
    """
    return {"city": city, "days": days, "sky": "sunny", "celsius": 21}


def get_time(city: str) -> str:
    """The local time in a city."""
    return f"12:00 in {city}"


def broken(city: str) -> str:
    """A tool that fails."""
    raise RuntimeError(f"no station in {city}")


def sent_bodies(emu):
    return [r["body"] for r in emu.state.received if r["body"]]


@pytest.mark.parametrize("api", APIS)
def test_a_call_runs_and_its_result_goes_back_in_the_apis_own_format(api, connect, emu):
    result = qwen_jupyter.chat("What is the weather in Hangzhou", tools=[get_weather], **connect(api))
    assert result.error is None, result.error
    (call,) = result.tool_calls
    assert call.name == "get_weather" and call.arguments == {"city": "Hangzhou", "days": 1}
    assert json.loads(call.output) == get_weather("Hangzhou") and call.error is None and call.ran
    assert "sunny" in result.text and result.finish_reason == "stop"
    second = sent_bodies(emu)[-1]
    if api == "openai":
        assert second["messages"][-1] == {"role": "tool", "content": call.output, "tool_call_id": call.id}
        assert second["messages"][-2]["tool_calls"][0]["id"] == call.id
    elif api == "responses":
        assert second["input"][-1] == {"type": "function_call_output", "call_id": call.id, "output": call.output}
        assert second["input"][-2]["type"] == "function_call"
    else:
        messages = second["input"]["messages"]
        assert messages[-1]["role"] == "tool" and messages[-1]["tool_call_id"] == call.id
    # usage is summed over both rounds
    assert result.usage.input_tokens > 0 and len(sent_bodies(emu)) == 2


@pytest.mark.parametrize("api", APIS)
def test_parallel_calls_run_and_show_in_order(api, connect):
    result = qwen_jupyter.chat("Use get_time and get_weather for Paris", tools=[get_weather, get_time],
                               **connect(api))
    assert result.error is None, result.error
    assert [c.name for c in result.tool_calls] == ["get_time", "get_weather"]
    assert all(c.ran and c.error is None for c in result.tool_calls)
    assert "12:00 in Paris" in result.text and "sunny" in result.text


@pytest.mark.parametrize("api", APIS)
def test_rounds_follow_one_another_and_the_conversation_keeps_them(api, connect):
    result = qwen_jupyter.chat("Call get_time then get_weather for Oslo", tools=[get_weather, get_time],
                               **connect(api))
    assert result.error is None, result.error
    assert [c.name for c in result.tool_calls] == ["get_time", "get_weather"]
    roles = [m.role for m in result.steps]
    assert roles == ["assistant", "tool", "assistant", "tool"]
    assert result.message().role == "assistant" and "sunny" in result.message().text


@pytest.mark.parametrize("api", APIS)
def test_a_tools_exception_goes_back_to_the_model_as_an_error(api, connect):
    result = qwen_jupyter.chat("Weather via broken in Rome", tools=[broken], **connect(api))
    assert result.error is None, result.error
    (call,) = result.tool_calls
    assert call.output is None and call.error == "RuntimeError: no station in Rome"
    assert "Error: RuntimeError: no station in Rome" in result.text


@pytest.mark.parametrize("api", APIS)
def test_arguments_that_are_not_json_are_reported_to_the_model_and_the_person(api, connect):
    result = qwen_jupyter.chat("Weather in Lima", tools=[get_weather], **connect(api, model="qwen-plus~bad-args"))
    assert result.error is None, result.error
    (call,) = result.tool_calls
    assert call.arguments == {} and call.error.startswith("The arguments are not valid JSON")
    assert "not valid JSON" in result.text  # the model was told


def test_arguments_that_do_not_fit_the_schema_are_reported(connect):
    def count(n: int) -> int:
        """Count."""
        return n

    count_schema = {"name": "count", "parameters": {"type": "object", "properties": {"n": {"type": "string"}}}}
    # The model sees a string parameter (the emulator fills in a word), the function wants an int.
    result = qwen_jupyter.chat("count words", tools=[count_schema], **connect())
    assert result.tool_calls[0].arguments == {"n": "words"} and not result.tool_calls[0].ran
    from qwen_jupyter.core.tools import Tool, as_tool

    strict = Tool("count", count_schema and {"type": "function", "function": count_schema}, count,
                  as_tool(count).arguments)
    result = qwen_jupyter.chat("count words", tools=[strict], **connect())
    call = result.tool_calls[0]
    assert call.output is None and "do not fit count's parameters (n: Input should be a valid integer" in call.error


@pytest.mark.parametrize("api", APIS)
def test_the_round_limit_stops_a_model_that_keeps_calling(api, connect):
    result = qwen_jupyter.chat("Weather in Kyiv", tools=[get_weather], max_rounds=3,
                               **connect(api, model="qwen-plus~tool-loop"))
    assert result.error is not None and result.error.code == "ToolRounds"
    assert "after 3 rounds" in result.error.message
    assert len(result.tool_calls) == 3 and all(c.ran for c in result.tool_calls)


def test_an_interrupt_in_a_tool_stops_the_loop_and_keeps_what_happened(connect):
    def slow(city: str) -> str:
        """Slow."""
        raise KeyboardInterrupt

    result = qwen_jupyter.chat("Weather in Bern", tools=[slow], **connect(), conversation="tools-interrupt")
    with pytest.raises(KeyboardInterrupt):
        result.wait()
    assert result.interrupted and result.tool_calls[0].name == "slow"
    session = qwen_jupyter.api.current_session()
    turn = session.conversation("tools-interrupt").turns[-1]
    # The calls never got answers, so the kept turn has no unanswered calls (the service would refuse them).
    assert turn.status == "interrupted" and not turn.assistant.tool_calls and turn.steps == ()


def test_confirmation_runs_only_what_the_person_allows(connect):
    asked = []

    def allow_time_only(name, arguments):
        asked.append((name, json.loads(arguments)))
        return name == "get_time"

    result = qwen_jupyter.chat("Use get_time and get_weather for Lima", tools=[get_weather, get_time],
                               confirm=allow_time_only, **connect()).wait()
    assert asked == [("get_time", {"city": "Lima"}), ("get_weather", {"city": "Lima", "days": 1})]
    time_call, weather_call = result.tool_calls
    assert time_call.output == "12:00 in Lima"
    assert weather_call.output is None and weather_call.error == "The person declined this call."


def test_confirmation_without_stdin_refuses_cleanly(connect, monkeypatch):
    def no_stdin(prompt=""):
        raise EOFError

    monkeypatch.setattr("builtins.input", no_stdin)
    ran = []

    def record(city: str) -> str:
        """Record."""
        ran.append(city)
        return city

    result = qwen_jupyter.chat("Weather in Riga", tools=[record], confirm=True, **connect())
    assert result.error.code == "NoStdin" and ran == []


@pytest.mark.parametrize("api", APIS)
def test_a_follow_up_sees_the_tool_turns(api, connect):
    chat = f"tools-follow-{api}"
    first = qwen_jupyter.chat("What is the weather in Hangzhou", tools=[get_weather], conversation=chat,
                              **connect(api))
    assert first.error is None
    follow = qwen_jupyter.chat("And tomorrow?", conversation=chat, **connect(api))
    assert follow.error is None, follow.error
    sent = [m["role"] for m in follow.messages]
    assert sent == ["user", "assistant", "tool", "assistant", "user"]


def test_history_takes_plain_openai_message_dicts(connect):
    history = [
        {"role": "user", "content": "Weather in Paris"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny, 21C"},
        {"role": "assistant", "content": [{"type": "text", "text": "It is sunny."}]},
    ]
    result = qwen_jupyter.chat("Thanks. Warm?", history=history, **connect())
    assert result.error is None, result.error
    assert [m["role"] for m in result.messages] == ["user", "assistant", "tool", "assistant", "user"]
    assert result.messages[1]["tool_calls"][0]["name"] == "get_weather"


def test_the_code_interpreter_is_an_option_shown_like_a_call(connect, emu):
    result = qwen_jupyter.chat("Add 3, 4 and 5", model="qwen3-max", code_interpreter=True, **connect("responses"))
    assert result.error is None, result.error
    (call,) = result.tool_calls
    assert call.name == "code_interpreter" and "print(sum(numbers))" in call.arguments["code"]
    assert call.output == "12\n" and not call.id  # the service ran it: nothing for us to answer
    assert {"type": "code_interpreter"} in emu.received[-1]["body"]["tools"]
    assert result.message().tool_calls == ()
    from qwen_jupyter.views.layout import final_bundle

    assert "code_interpreter(code=" in final_bundle(result)["text/html"]


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_the_code_interpreter_flag_reaches_the_other_apis(api, connect, emu):
    qwen_jupyter.chat("Add 3 and 4", model="qwen3-max", think=True, code_interpreter=True, **connect(api)).wait()
    body = emu.received[-1]["body"]
    assert (body if api == "openai" else body["parameters"])["enable_code_interpreter"] is True


def test_tool_turns_survive_a_restart_of_the_store(connect, tmp_path):
    from qwen_jupyter.core.tools import toolbox
    from qwen_jupyter.engine.asking import Asking, ask_in
    from qwen_jupyter.state.session import Session
    from qwen_jupyter.state.store import Store

    path = str(tmp_path / "q.db")
    session = Session("nb.ipynb", Store(path))
    request, settings = qwen_jupyter.api.prepare("Weather in Hangzhou", tools=[get_weather], **connect())
    ask_in(session, "default", "cell-1", request, settings, how=Asking(toolbox([get_weather]))).wait()
    reopened = Session("nb.ipynb", Store(path))
    context = reopened.conversation().context_for("cell-2")
    assert [m.role for m in context] == ["user", "assistant", "tool", "assistant"]
    assert context[1].tool_calls[0].name == "get_weather" and context[2].tool_call_id == context[1].tool_calls[0].id


def test_history_takes_the_sdks_own_message_objects(connect):
    first = qwen_jupyter.chat("Hello", stream=False, **connect())
    sdk_message = first.raw[0].choices[0].message  # openai's ChatCompletionMessage
    result = qwen_jupyter.chat("Go on", history=[{"role": "user", "content": "Hello"}, sdk_message], **connect())
    assert result.error is None, result.error
    assert [m["role"] for m in result.messages] == ["user", "assistant", "user"]
    assert result.messages[1]["content"] == first.text


def test_achat_runs_the_rounds_too(connect):
    import asyncio

    result = asyncio.run(qwen_jupyter.achat("Weather in Hangzhou", tools=[get_weather], **connect()))
    assert result.done and result.tool_calls[0].ran and "sunny" in result.text
