"""%%qwen --tools in a real kernel: the calls show live as blocks before the answer, --confirm asks through the
front end's input box (and refuses cleanly where there is none), and a follow-up cell sees the tool turns."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e

DEFINE = '''
def get_weather(city: str, days: int = 1) -> dict:
    """The forecast for a city."""
    return {"city": city, "sky": "sunny", "celsius": 21}
'''


def test_calls_show_live_before_the_answer_and_stay_in_the_saved_output(kernel, emu):
    kernel.execute(DEFINE)
    run = kernel.execute("%%qwen --tools get_weather\nWhat is the weather in Hangzhou?")
    assert run.reply["content"]["status"] == "ok", run.stderr
    shown = [m["content"]["data"].get("text/html", "") for m in run.display_messages
             if m["msg_type"] != "clear_output" and m["content"]["data"]]
    running = next(i for i, h in enumerate(shown) if "qwen-tool-call" in h and "running…" in h)
    done = next(i for i, h in enumerate(shown) if "qwen-tool-call" in h and "✓" in h)
    answer = [i for i, h in enumerate(shown) if "The tool returned" in h]
    assert running < done < answer[0]  # the answer (live or only in the final output) comes after the call
    final = run.final["text/html"]
    assert final.index("qwen-tool-call") < final.index("The tool returned")
    assert "get_weather(city=\"Hangzhou\", days=1)" in final
    assert "Tool call get_weather(city=\"Hangzhou\", days=1) -> {" in run.final["text/plain"]
    check = kernel.execute("print(_qwen.tool_calls[0].arguments, _qwen.tool_calls[0].output)")
    assert "{'city': 'Hangzhou', 'days': 1}" in check.stdout and '"sky": "sunny"' in check.stdout
    follow = kernel.execute("%%qwen\nAnd tomorrow?")
    assert follow.reply["content"]["status"] == "ok"
    messages = emu.received[-1]["body"]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant", "user"]


def test_confirm_asks_in_the_front_end_and_refuses_without_one(kernel, emu):
    kernel.execute(DEFINE)
    run = kernel.execute("%%qwen --tools get_weather --confirm\nWeather in Oslo", answers=["y"])
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert run.prompts == ["Run get_weather? [y/N] "]
    assert "The model asks to run:\nget_weather(\n    city=" in run.stdout
    assert "sunny" in run.final["text/plain"]
    declined = kernel.execute("%%qwen --tools get_weather --confirm\nWeather in Rome", answers=["n"])
    assert "The person declined this call." in declined.final["text/plain"]
    headless = kernel.execute("%%qwen --tools get_weather --confirm\nWeather in Lima")  # no stdin (nbconvert)
    assert headless.reply["content"]["status"] == "error"
    assert "NoStdin" in headless.reply["content"]["evalue"] or "NoStdin" in headless.stderr + str(headless.reply)
    assert "Traceback" not in headless.stderr


def test_an_unknown_tool_name_is_a_short_usage_error(kernel, emu):
    before = len(emu.received)
    run = kernel.execute("%%qwen --tools nope,also_not\nHi")
    assert run.reply["content"]["status"] == "error"
    assert "--tools: nope, also_not are not defined." in run.stderr + str(run.reply["content"])
    assert len(emu.received) == before


DELETE = '''
removed = []

def delete_path(path: str, reason: str = "") -> str:
    """Delete a file the person no longer needs."""
    removed.append(path)
    return "deleted " + path
'''


def test_an_approval_shows_what_will_run_not_what_the_model_wrote(kernel, emu):
    kernel.execute(DELETE)
    # JSON keeps the last of a repeated key: the call reads as the draft and would delete the thesis.
    spoof = kernel.execute('%%qwen --tools delete_path --confirm -m qwen-plus~echo-args\n'
                           '{"path": "notes/old-draft.txt", "reason": "tidy up", "path": "/home/you/thesis"}',
                           answers=["y"])
    assert spoof.reply["content"]["status"] == "ok", spoof.stderr
    assert not spoof.prompts and "'path' more than once" in spoof.final["text/plain"]
    assert kernel.execute("print(removed)").stdout.strip() == "[]"
    hidden = kernel.execute('%%qwen --tools delete_path --confirm -m qwen-plus~echo-args\n'
                            '{"path": "notes/old\u202etxt.exe", "reason": "' + "x" * 5000 + '"}',
                            answers=["all", "n"])
    assert hidden.prompts == ["Run delete_path? [y/N/all] "] * 2
    assert "⟨U+202E RIGHT-TO-LEFT OVERRIDE⟩" in hidden.stdout and "\u202e" not in hidden.stdout
    assert "more characters (answer 'all'" in hidden.stdout and hidden.stdout.count("x" * 5000) == 1
    assert "The person declined this call." in hidden.final["text/plain"]
    assert kernel.execute("print(removed)").stdout.strip() == "[]"
