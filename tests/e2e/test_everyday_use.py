"""What a person types without reading the README, through a real kernel: questions ending in ?, magics mid-cell
and in loops, pasted JSON, failures that must stop Run All, wrong media, and the small things."""

from __future__ import annotations

import json
import threading
import time

import pytest

from .test_magic_in_kernel import _failure

pytestmark = pytest.mark.e2e


def _prompt(emu) -> str:
    """The text of the last user message the emulator received (any API)."""
    body = emu.received[-1]["body"]
    messages = body.get("messages") or body.get("input", {}).get("messages")
    content = messages[-1]["content"]
    return content if isinstance(content, str) else next(p["text"] for p in content if p.get("type") == "text")


def _finals(run) -> list[dict]:
    return [m["content"]["data"] for m in run.of("display_data") if m["content"]["data"]]


def test_a_one_line_question_ending_in_a_question_mark_is_asked(kernel, emu):
    run = kernel.execute("%qwen What is the capital of France?")
    assert run.reply["content"]["status"] == "ok" and "not found" not in run.stdout
    assert _prompt(emu) == "What is the capital of France?"
    assert "What is the capital of France?" in run.final["text/plain"]
    kernel.execute("%qwen Really??")
    assert _prompt(emu) == "Really??"
    helped = kernel.execute("%qwen?")  # the magic's own help still works
    assert "Ask a Qwen model" in json.dumps(helped.reply["content"].get("payload"), default=str)


def test_a_magic_mid_cell_sends_when_it_runs_and_shows_its_answer_once(kernel, emu):
    before = len(emu.received)
    run = kernel.execute("%qwen Say hello\nafter = 1")
    assert len(emu.received) == before + 1 and len(_finals(run)) == 1
    assert "Say hello" in run.final["text/plain"] and not run.of("execute_result")
    bound = kernel.execute("x = %qwen hi there\nprint(type(x).__name__, x.done, x.ok)")
    assert bound.stdout.split() == ["QwenResult", "True", "True"] and len(_finals(bound)) == 1
    last = kernel.execute("%qwen shown once")  # the last expression: streamed, not displayed again
    assert len(_finals(last)) == 1 and not last.of("execute_result")


def test_each_ask_in_a_loop_is_its_own_turn(kernel, emu):
    kernel.execute("for topic in ['cats', 'dogs', 'owls']:\n"
                   "    get_ipython().run_line_magic('qwen', f'-c loop One fact about {topic}')", cell_id="loop")
    history = kernel.execute("%qwen history loop").stdout
    assert all(word in history for word in ("cats", "dogs", "owls")) and "[3]" in history
    kernel.execute("for topic in ['cats', 'dogs', 'owls']:\n"
                   "    get_ipython().run_line_magic('qwen', f'-c loop One fact about {topic}')", cell_id="loop")
    assert "[4]" not in kernel.execute("%qwen history loop").stdout  # a re-run replaces its three turns


@pytest.mark.parametrize("prompt", [
    'Reply as JSON like {"label": "pos"}',
    "Fix this: d = {'a': 1}",
    '```python\nprint(f"hello {name}")\n```',
])
def test_pasted_json_and_code_are_sent_as_typed(prompt, kernel, emu):
    kernel.execute("name = 'Ada'")
    run = kernel.execute("%%qwen\n" + prompt)
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert _prompt(emu) == prompt


def test_raw_and_the_interpolate_trait_turn_interpolation_off(kernel, emu):
    kernel.execute("%%qwen --raw\nHello {nobody}")
    assert _prompt(emu) == "Hello {nobody}"
    kernel.execute("%config QwenMagics.interpolate = False")
    kernel.execute("%%qwen\nHi {nobody} {{x}}")
    kernel.execute("%config QwenMagics.interpolate = True")
    assert _prompt(emu) == "Hi {nobody} {{x}}"


def test_a_failed_request_fails_the_cell_in_one_line_so_run_all_stops(kernel):
    run = kernel.execute("%qwen -m qwen-plus~401 hello\nprint('not reached')")
    assert "401 invalid_api_key" in _failure(run) and "not reached" not in run.stdout
    assert "qwen-error" in run.final["text/html"]  # the box was shown first
    quiet = kernel.execute("%%qwen -q -m qwen-plus~moderation\nhello")
    assert "data_inspection_failed" in _failure(quiet)
    debug = kernel.execute("%%qwen --debug -m qwen-plus~401\nhello")
    assert len(debug.of("error")[0]["content"]["traceback"]) > 1  # --debug: the real traceback


def test_an_interrupt_in_a_quiet_cell_and_in_a_displayed_chat_ends_in_one_line(kernel):
    for code in ("%%qwen -q -m qwen-plus~long=20000,chunk=4,slow=0.005\nA long answer",
                 "import qwen_jupyter\nqwen_jupyter.chat('A long answer', model='qwen-plus~long=20000,chunk=4,slow=0.005')"):
        threading.Timer(0.8, kernel.interrupt).start()
        run = kernel.execute(code, timeout=30)
        assert run.reply["content"]["ename"] == "Interrupted" and "partial answer is kept" in _failure(run)
        check = kernel.execute("import qwen_jupyter\nr = qwen_jupyter.session().last if 'r' not in dir() else r\n"
                               "print(_qwen.interrupted)")
        assert check.reply["content"]["status"] == "ok"


def test_a_retried_request_says_so_while_it_waits(kernel, emu):
    emu.inject("429,retry-after=1", times=1)
    notes: list[float] = []
    started = time.perf_counter()

    def watch(msg):
        data = msg["content"].get("data", {})
        if "Trying again in 1.0 s" in data.get("text/plain", ""):
            notes.append(time.perf_counter() - started)

    run = kernel.execute("%%qwen\nhello after a rate limit", on_message=watch)
    assert run.reply["content"]["status"] == "ok" and notes and notes[0] < 0.8  # said before the wait ended
    assert "Trying again" not in run.final["text/html"]  # the answer replaced the note


def test_conversation_consistency_deletions_markers_and_history(kernel, emu):
    kernel.execute("%%qwen -c c\nFirst", cell_id="one")
    kernel.execute("%%qwen -c c\nSecond", cell_id="two")
    kernel.execute("x = 1", deleted=["one"])  # JupyterLab reports the deletion with whatever runs next
    assert "First" not in kernel.execute("%qwen history c").stdout
    kernel.execute("%%qwen -c c -m qwen-plus~drop=2\nA broken answer", cell_id="three")
    kernel.execute("%%qwen -c c\nAnd then?", cell_id="four")
    messages = emu.received[-1]["body"]["messages"]
    assert messages[-2]["role"] == "assistant" and messages[-2]["content"].endswith("[incomplete]")


def test_a_deletion_reported_after_a_restart_is_honoured(emulator, tmp_path):
    from .conftest import start_kernel

    kernel = start_kernel(emulator, tmp_path)
    try:
        kernel.execute("%%qwen -c r\nKeep me", cell_id="keep")
        kernel.execute("%%qwen -c r\nDelete me", cell_id="gone")
        kernel.restart()
        kernel.execute("%load_ext qwen_jupyter", deleted=["gone"])  # the first cell after the restart
        history = kernel.execute("%qwen history r").stdout
        assert "Keep me" in history and "Delete me" not in history
    finally:
        kernel.shutdown()


def test_wrong_media_and_results_are_clear_errors_before_anything_is_sent(kernel, emu, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    before = len(emu.received)
    for api in ("openai", "responses", "dashscope"):
        run = kernel.execute(f"%%qwen --api {api} -m qwen-vl-max -i {notes}\nDescribe")
        assert "notes.txt is not an image (it looks like text/plain)" in _failure(run)
        run = kernel.execute(f"%%qwen --api {api} -m qwen-plus -i https://example.com/cat.png\nDescribe")
        assert "qwen-plus takes text only, not image; for image use qwen-vl-max" in _failure(run)
    assert len(emu.received) == before
    kernel.execute("%%qwen\nJust prose, please.")
    not_json = kernel.execute("_qwen.json()")
    assert "NotJSON" in _failure(not_json) and "not JSON" in _failure(not_json)
    code = kernel.execute("%%qwen -f code\nJust prose, please.")
    assert "has no code block" in code.stdout


def test_small_things(kernel, emu, tmp_path):
    before = len(emu.received)
    typo = kernel.execute("%qwen histroy")
    assert "did you mean %qwen history" in typo.stderr and len(emu.received) == before
    config = kernel.execute("%config QwenMagics.base_url = None\n%qwen config")
    assert "key set" in config.stdout  # the kernel has a real-looking key in its environment
    missing = kernel.execute(f"%qwen replay {tmp_path / 'missing.jsonl'}")
    assert "No cassette at" in missing.stderr
    login = kernel.execute("%qwen login")  # no stdin here (allow_stdin is False), as under nbconvert
    assert "needs a front end that can ask for input" in login.stderr and "Traceback" not in login.stderr


def test_the_panel_alongside_cells(kernel, emu):
    run = kernel.execute("import qwen_jupyter\np = qwen_jupyter.Panel(chat='side', model='qwen-plus~slow=0.01')\n"
                         "p.ask('first')")  # the last expression: shown as its repr, not read a second time
    assert run.reply["content"]["status"] == "ok" and "ValueError" not in run.stderr
    busy = kernel.execute("p.ask('second')")
    assert "still answering" in _failure(busy)
    kernel.execute("p.wait(30)")
    kernel.execute("%%qwen -c side\nFrom a cell")
    turns = kernel.execute("print([t['user'] for t in p.turns])").stdout
    assert "first" in turns and "From a cell" in turns  # the panel shows the cell's turn of its chat
    kernel.execute("p.model = 'qwen3.5-plus'\nprint(p.thinking)\np.thinking = False\np.ask('no thinking')\n"
                   "p.wait(30)")
    assert emu.received[-1]["body"]["enable_thinking"] is False


def test_a_one_line_prompt_is_sent_as_typed(kernel, emu):
    run = kernel.execute('%qwen -t 0.5 Reply as JSON like {"label": "pos"}  or  {"label": "neg"}?')
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert _prompt(emu) == 'Reply as JSON like {"label": "pos"}  or  {"label": "neg"}?'
