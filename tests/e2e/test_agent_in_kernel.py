"""The notebook agent through a real kernel: the model reads the person's variables and runs code in their
namespace, only with their approval, typed on stdin as a person would; what goes back to the model is bounded and
carries no key; a hostile model's calls never run unapproved."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import subprocess
import sys
import threading
import time

import pytest

from ..conftest import KEY
from .test_magic_in_kernel import _failure

pytestmark = pytest.mark.e2e

SALES = ("import pandas as pd\n"
         "sales = pd.DataFrame({'region': ['north', 'south', 'north', 'east'], 'units': [3, 5, None, 2],"
         " 'total': [30.0, 52.5, 12.0, 20.0]})\n"
         "ran = []")


def _tool_messages(emu) -> list[str]:
    """What the tools sent back to the model in the last round (the tool messages after the last question)."""
    messages = emu.received[-1]["body"]["messages"]
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    return [m["content"] for m in messages[last_user:] if m["role"] == "tool"]


def _calls(kernel) -> list[dict]:
    run = kernel.execute("import json\nprint(json.dumps([{'name': c.name, 'approved': c.approved, 'error': c.error,"
                         " 'output': c.output, 'arguments': c.arguments} for c in _qwen.tool_calls]))")
    return json.loads(run.stdout)


def test_run_python_asks_first_shows_the_code_and_runs_in_the_notebook(kernel, emu):
    kernel.execute(SALES)
    run = kernel.execute("%%qwen --agent\nRun `north = sales[sales.region == 'north'].total.sum(); north`",
                         answers=["y"])
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert run.prompts == ["Run run_python? [y/N] "]
    assert "The model asks to run:\nrun_python: 1 line of code\n┃ north = sales[sales.region == 'north']" in run.stdout
    assert kernel.execute("print(north)").stdout.strip() == "42.0"  # it ran in the person's namespace
    (call,) = _calls(kernel)
    assert call["name"] == "run_python" and call["approved"] is True and "Value: np.float64(42.0)" in call["output"]
    assert "Value: np.float64(42.0)" in _tool_messages(emu)[0]
    final = run.final["text/html"]
    assert "approved by you" in final and "north = sales[sales.region" in final  # the block shows the code


def test_no_runs_nothing_and_tells_the_model(kernel, emu):
    kernel.execute(SALES)
    run = kernel.execute("%%qwen --agent\nRun `ran.append('it ran')`", answers=["n"])
    assert run.reply["content"]["status"] == "ok" and run.prompts
    assert kernel.execute("print(ran)").stdout.strip() == "[]"
    (call,) = _calls(kernel)
    assert call["approved"] is False and call["error"] == "The person declined this call."
    assert _tool_messages(emu) == ["Error: The person declined this call."]
    assert "not run: you said no" in run.final["text/html"]


def test_with_nobody_to_ask_nothing_runs_and_the_cell_ends_in_one_line(kernel, emu):
    kernel.execute(SALES)
    run = kernel.execute("%%qwen --agent\nRun `ran.append('it ran')`")  # no stdin: as nbconvert or papermill
    assert "run_python needs your approval to run, but nothing here can ask: nothing ran." in _failure(run)
    assert kernel.execute("print(ran)").stdout.strip() == "[]"
    assert "asks to run" not in run.stdout  # nothing printed as if someone would be asked
    assert "✗ not run: nobody could approve it" in run.final["text/html"]
    (call,) = _calls(kernel)
    assert call["approved"] is False and "nothing here can ask" in call["error"] and call["output"] is None


def test_yes_approves_every_run_of_the_cell_and_reading_tools_ask_nothing(kernel, emu):
    kernel.execute(SALES)
    run = kernel.execute("%%qwen --agent --yes\nRun `ran.append(len(sales))`")
    assert run.reply["content"]["status"] == "ok" and not run.prompts
    shown = [m["content"]["data"].get("text/html", "") for kind in ("display_data", "update_display_data")
             for m in run.of(kind)]
    assert any("qwen-tool-call" in h for h in shown)
    assert not any("waiting for your approval" in h for h in shown)  # nobody is asked: it never says so
    assert kernel.execute("print(ran)").stdout.strip() == "[4]"
    for prompt, name in (("Which variables do I have?", "list_variables"), ("Describe sales", "describe"),
                         ("Why did it fail? Show the last error", "last_error")):
        asked = kernel.execute(f"%%qwen --agent\n{prompt}", answers=[])
        assert asked.reply["content"]["status"] == "ok" and not asked.prompts, prompt
        assert _calls(kernel)[0]["name"] == name
    variables = _tool_messages(emu)
    assert variables  # last_error's: there was an error earlier in this kernel, or it says there was none


def test_list_variables_and_describe_read_the_frame_without_running_model_text(kernel, emu):
    kernel.execute(SALES + "\nimport numpy as np\ngrid = np.zeros((3, 4))")
    kernel.execute("%%qwen --agent\nWhich variables do I have?")
    (listed,) = _tool_messages(emu)
    assert "sales: DataFrame 4 × 3 (region, units, total)" in listed and "grid: ndarray shape (3, 4)" in listed
    assert "pd:" not in listed and "np:" not in listed and "In:" not in listed  # modules, IPython's own
    kernel.execute("%%qwen --agent\nDescribe sales")
    (described,) = _tool_messages(emu)
    assert "dtypes:" in described and "units" in described and "summary:" in described and "first rows:" in described
    kernel.execute("%%qwen --agent\nDescribe `__import__('os').system('touch /tmp/pwned')`")
    assert "There is no variable called" in _tool_messages(emu)[0]  # a name is looked up, never evaluated


def test_an_approved_print_of_the_environment_does_not_carry_the_key(kernel, emu):
    run = kernel.execute("%%qwen --agent --yes\nRun `import os; print(dict(os.environ))`")
    assert run.reply["content"]["status"] == "ok", run.stderr
    sent = json.dumps(emu.received[-1]["body"])
    assert "DASHSCOPE_API_KEY" in sent and KEY not in sent  # the environment went back, the key did not


def test_a_repeated_key_in_the_code_argument_is_refused_before_anything_is_shown(kernel, emu):
    kernel.execute(SALES)
    spoof = ('{"code": "ran.append(\'harmless\')", "code": "ran.append(\'evil\')"}')
    run = kernel.execute(f"%%qwen --agent -m qwen-plus~echo-args\n{spoof}", answers=["y"])
    assert run.reply["content"]["status"] == "ok" and not run.prompts
    assert kernel.execute("print(ran)").stdout.strip() == "[]"
    assert "'code' more than once" in _calls(kernel)[0]["error"]


def test_hidden_characters_in_code_are_written_out_before_the_person_decides(kernel, emu):
    kernel.execute(SALES)
    run = kernel.execute("%%qwen --agent\nRun `ran.append('safe')\u202e  #\u200b`", answers=["n"])
    assert "⟨U+202E RIGHT-TO-LEFT OVERRIDE⟩" in run.stdout and "⟨U+200B ZERO WIDTH SPACE⟩" in run.stdout
    assert "\u202e" not in run.stdout


def test_a_code_error_goes_back_to_the_model_and_displays_are_shown_after_the_answer(kernel, emu):
    failed = kernel.execute("%%qwen --agent --yes\nRun `1 / 0`")
    assert failed.reply["content"]["status"] == "ok"
    assert _tool_messages(emu)[0].startswith("Error: ZeroDivisionError: division by zero")
    shown = kernel.execute("%%qwen --agent --yes\nRun `from IPython.display import display, HTML; "
                           "display(HTML('<b>from the code</b>')); 7`")
    assert "Shown to the person: 1 display(s)." in _tool_messages(emu)[0]
    displays = [m["content"]["data"] for m in shown.of("display_data")]
    final_at = max(i for i, d in enumerate(displays) if "qwen-tool-call" in d.get("text/html", ""))
    assert any("<b>from the code</b>" in d.get("text/html", "") for d in displays[final_at + 1:])


def test_a_comparison_with_the_agent_is_refused_and_an_interrupt_at_the_prompt_runs_nothing(kernel, emu):
    kernel.execute(SALES)
    compared = kernel.execute("%%qwen --agent --compare qwen-plus,qwen-max\nRun `ran.append(1)`")
    assert "compare without --agent or --confirm" in _failure(compared)
    threading.Timer(1.0, kernel.interrupt).start()
    interrupted = kernel.execute("%%qwen --agent\nRun `ran.append(2)`", answers=[], wait=True, timeout=30)
    assert interrupted.prompts == ["Run run_python? [y/N] "]  # the interrupt came while it asked
    assert interrupted.reply["content"]["status"] == "error"
    assert kernel.execute("print(ran)").stdout.strip() == "[]"


def test_chat_agent_asks_on_stdin_too(kernel, emu):
    kernel.execute(SALES)
    run = kernel.execute("import qwen_jupyter\nr = qwen_jupyter.chat('Run `ran.append(3)`', agent=True).wait()\n"
                         "print(r.tool_calls[0].approved, ran)", answers=["y"])
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert run.prompts == ["Run run_python? [y/N] "] and run.stdout.strip().endswith("True [3]")


def test_qwen_fix_names_the_cells_line_when_the_error_is_raised_deep_in_a_library(kernel, emu):
    kernel.execute("import numpy as np\nimport pandas as pd\ndf = pd.DataFrame({'x': [1.0, np.nan]})\n"
                   "whole = df['x'].astype(int)", cell_id="deep")
    run = kernel.execute("%qwen fix")
    assert run.reply["content"]["status"] == "ok", run.stderr
    prompt = emu.received[-1]["body"]["messages"][-1]["content"]
    # The cell's own frame stays first, however deep in pandas it ended; the frames between are counted.
    assert "cell, line 4, in <module>\n    whole = df['x'].astype(int)\n  ... (" in prompt
    assert "frames in between)" in prompt and "IntCastingNaNError" in prompt
    assert "Line 4 of the cell raised `pandas.errors.IntCastingNaNError`" in run.final["text/plain"]


def test_qwen_fix_sends_the_failing_cell_and_its_error_and_puts_code_below(kernel, emu):
    kernel.execute("def mean(xs):\n    return sum(xs) / len(xs)\n\nmean([])", cell_id="broken")
    run = kernel.execute("%qwen fix")
    assert run.reply["content"]["status"] == "ok", run.stderr
    prompt = emu.received[-1]["body"]["messages"][-1]["content"]
    assert "def mean(xs):" in prompt and "ZeroDivisionError" in prompt
    assert "cell, line 4, in <module>" in prompt and "ipykernel_" not in prompt  # no temporary paths
    assert "interactiveshell" not in prompt  # from the cell on: IPython's own frame says nothing
    # The emulated model reads the traceback as the prompt asks: the line that raised, the cell guarded there.
    assert "Line 2 of the cell raised `ZeroDivisionError` (division by zero)" in run.final["text/plain"]
    payload = run.reply["content"].get("payload") or []
    below = next(p["text"] for p in payload if p.get("source") == "set_next_input")
    assert below == ("def mean(xs):\n    try:\n        return sum(xs) / len(xs)\n    except ZeroDivisionError as error:"
                     "  # the line that failed: handle the case it could not\n        print(f\"skipped: {error!r}\")"
                     "\n\nmean([])")



AGENT_SCRIPT = """
import sys
import qwen_jupyter
ran = []
r = qwen_jupyter.chat("Run `ran.append(1)`", agent=True, base_url=sys.argv[1], api_key=sys.argv[2])
try:
    r.wait()
    print("approved:", r.tool_calls[0].approved, "ran:", ran)
except qwen_jupyter.QwenError as error:
    print("error:", error)
"""


def _agent_script(emulator, tmp_path, stdin, stdout) -> subprocess.Popen:
    """A plain script that asks with the agent (no IPython), its approval read from `stdin`."""
    path = tmp_path / "agent.py"
    path.write_text(AGENT_SCRIPT)
    env = {**os.environ, "QWEN_JUPYTER_DB": str(tmp_path / "qwen.db")}
    return subprocess.Popen([sys.executable, str(path), emulator.url, KEY], stdin=stdin, stdout=stdout,
                            stderr=subprocess.STDOUT, env=env)


def test_a_script_with_nobody_to_ask_is_told_the_scripts_way_to_approve(emulator, tmp_path):
    out, _ = _agent_script(emulator, tmp_path, subprocess.DEVNULL, subprocess.PIPE).communicate(timeout=60)
    said = out.decode()
    assert "nothing here can ask: nothing ran" in said and "pass yes=True (or confirm=a function" in said
    assert "--yes" not in said  # a script has no cell options


def test_ctrl_d_at_a_terminals_prompt_is_a_no(emulator, tmp_path):
    main, terminal = pty.openpty()
    script = _agent_script(emulator, tmp_path, terminal, terminal)
    os.close(terminal)
    seen, deadline = b"", time.monotonic() + 30
    while b"[y/N]" not in seen and time.monotonic() < deadline:
        seen += os.read(main, 4096) if select.select([main], [], [], 0.5)[0] else b""
    os.write(main, b"\x04")  # Ctrl-D on an empty line: the person ends the input
    while script.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):  # the terminal closes when the script ends
            seen += os.read(main, 4096) if select.select([main], [], [], 0.5)[0] else b""
    script.wait(10)
    os.close(main)
    assert b"approved: False ran: []" in seen, seen
