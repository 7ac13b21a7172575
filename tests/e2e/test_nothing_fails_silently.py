"""Nothing fails silently, through real processes: a plain script, a real kernel, the person's %config."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from ..conftest import KEY
from .test_magic_in_kernel import _failure

pytestmark = pytest.mark.e2e


def _script(code: str, emulator, tmp_path) -> subprocess.CompletedProcess:
    """Run code as a plain Python script (no IPython), pointed at the emulator."""
    path = tmp_path / "script.py"
    path.write_text(textwrap.dedent(code))
    env = {"PATH": "/usr/bin:/bin", "QWEN_JUPYTER_DB": str(tmp_path / "qwen.db"), "HOME": str(tmp_path),
           **{name: os.environ[name] for name in ("PYTHONPATH",) if name in os.environ}}
    return subprocess.run([sys.executable, str(path), emulator.url, KEY], capture_output=True, text=True, env=env,
                          timeout=120)


def test_a_script_that_reads_only_the_text_of_a_failed_answer_is_told_on_stderr(emulator, tmp_path):
    run = _script("""
        import sys
        from qwen_jupyter import chat
        url, key = sys.argv[1:]
        unread = chat("Hi", model="qwen-plus~401", base_url=url, api_key=key)
        print("text:", repr(unread.text))
        checked = chat("Hi", model="qwen-plus~403", base_url=url, api_key=key)
        print("checked:", checked.error.status)
        fine = chat("Hi", base_url=url, api_key=key)
        print("fine:", bool(fine.text))
    """, emulator, tmp_path)
    assert run.stdout.splitlines() == ["text: ''", "checked: 403", "fine: True"], run.stderr
    said = run.stderr.strip().splitlines()
    assert said == ["qwen_jupyter: an answer failed and nothing read its error: invalid_api_key: Invalid API-key "
                    "provided."]
    assert KEY not in run.stderr


def test_a_script_whose_request_fails_stops_with_the_error_not_an_empty_answer(emulator, tmp_path):
    run = _script("""
        import sys
        from qwen_jupyter import QwenError, chat
        url, key = sys.argv[1:]
        r = chat("Hi", model="qwen-plus~401", base_url=url, api_key=key)
        try:
            r.wait()
        except QwenError as error:
            print("wait:", error.status, error.result is r, repr(r.text))
        partial = chat("hello there dear friend", model="qwen-plus~drop=2", base_url=url, api_key=key)
        try:
            for event in partial:
                pass
        except QwenError as error:
            print("iteration:", error.code, repr(error.result.text))
        chat("Hi", model="qwen-plus~403", base_url=url, api_key=key).wait()
        print("carried on")
    """, emulator, tmp_path)
    assert run.returncode == 1 and "carried on" not in run.stdout
    assert "wait: 401 True ''" in run.stdout
    assert "iteration: IncompleteStream '**[emulated qwen-plus]** '" in run.stdout
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("qwen_jupyter.QwenError: 403") and KEY not in run.stderr


def test_a_good_answer_raises_nothing_and_a_stop_is_not_a_failure(emulator, tmp_path):
    run = _script("""
        import sys
        from qwen_jupyter import chat
        url, key = sys.argv[1:]
        print(chat("Who are you?", base_url=url, api_key=key).wait().text[:4])
        r = chat("A long answer", model="qwen-plus~long=2000,chunk=4", base_url=url, api_key=key)
        for event in r:
            r.stop()
        print(r.wait().interrupted)
    """, emulator, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["I", "am", "True"]


def test_a_displayed_chat_that_failed_shows_its_box_and_fails_the_cell(kernel):
    run = kernel.execute("import qwen_jupyter\nqwen_jupyter.chat('hello', model='qwen-plus~401')")
    assert "401" in _failure(run)
    assert "qwen-error" in run.final["text/html"]  # the error box was shown first


def test_a_cell_that_reads_only_the_text_of_a_failed_answer_is_told_after_it(kernel):
    run = kernel.execute("import qwen_jupyter\nr = qwen_jupyter.chat('hello', model='qwen-plus~401')\n"
                         "print(repr(r.text))")
    assert run.reply["content"]["status"] == "ok" and run.stdout.strip() == "''"
    (line,) = [line for line in run.stderr.splitlines() if line.startswith("qwen_jupyter:")]
    assert line == "qwen_jupyter: an answer failed and nothing read its error: invalid_api_key: Invalid API-key provided."
    assert KEY not in run.stderr
    again = kernel.execute("print(r.text)")  # said once, in the cell it ended in
    assert "qwen_jupyter:" not in again.stderr
    checked = kernel.execute("r2 = qwen_jupyter.chat('hello', model='qwen-plus~401')\nprint(r2.ok, r2.error.code)")
    assert checked.stdout.strip() == "False invalid_api_key" and "qwen_jupyter:" not in checked.stderr
    shown = kernel.execute("qwen_jupyter.chat('hello', model='qwen-plus~401')")  # its box and the cell's error
    assert "401" in _failure(shown) and "qwen_jupyter:" not in shown.stderr


def test_config_is_the_notebooks_settings_for_chat_and_map_and_explicit_arguments_win(kernel, emu):
    from qwen_jupyter.emulator import Emulator

    with Emulator() as other:
        run = kernel.execute(
            f"%config QwenMagics.base_url = '{other.url}'\n%config QwenMagics.model = 'qwen-max'\n"
            "%config QwenMagics.system = 'Be brief.'\n"
            "import asyncio, qwen_jupyter, pandas as pd\n"
            "r = qwen_jupyter.chat('Who are you?').wait()\n"
            "m = qwen_jupyter.map(pd.DataFrame({'text': ['one', 'two']}), 'Echo {text}', progress=False)\n"
            f"explicit = qwen_jupyter.chat('hi', model='qwen-flash', base_url={emu.url!r}).wait()\n"
            "print(r.model, m['answer'].notna().all())")
        try:
            assert run.reply["content"]["status"] == "ok", run.stderr
            assert run.stdout.split() == ["qwen-max", "True"]
            bodies = [r["body"] for r in other.received]
            assert len(bodies) == 3 and {b["model"] for b in bodies} == {"qwen-max"}
            assert bodies[0]["messages"][0] == {"role": "system", "content": "Be brief."}
            assert emu.received[-1]["body"]["model"] == "qwen-flash"  # an explicit argument wins
        finally:
            kernel.execute("%config QwenMagics.base_url = None\n%config QwenMagics.system = None")


# What an attacker's text tries on a terminal: write the clipboard (OSC 52), retitle it (OSC 0), a link that lies
# (OSC 8), clear the screen (CSI 2J), and the single-byte CSI form.
TERMINAL_ATTACK = ("plain \x1b]52;c;ZWNobyBwd25lZA==\x07 \x1b]0;owned\x07 \x1b]8;;http://evil.example/\x1b\\\\docs\x1b]8;;"
                   "\x1b\\\\ \x1b[2J\x1b[H \x9b31m end")


def _moves_a_terminal(text: str) -> bool:
    """Whether text holds anything a terminal acts on, besides the red 'QwenError' label of our own one line."""
    ours = text.replace("\x1b[0;31m", "").replace("\x1b[0m", "")
    return any(char in ours for char in "\x1b\x07\x9b\x9d")


def test_server_and_model_text_cannot_move_a_terminal_wherever_it_is_printed(kernel, emu, tmp_path):
    kernel.execute(f"P = {TERMINAL_ATTACK!r}")
    failed = kernel.execute("%qwen -m qwen-plus~bad-request,echo,echo-code {P}")
    line = _failure(failed)
    assert "plain" in line and not _moves_a_terminal(line)
    kernel.execute("%qwen -c term -m qwen-plus~echo {P}")
    for command in ("%qwen history term", "%qwen log search plain"):
        printed = kernel.execute(command).stdout
        assert "plain" in printed and not _moves_a_terminal(printed), (command, printed)
    document = tmp_path / "notes \x1b]0;owned\x07\x1b[2J.txt"  # a person's own file, oddly named
    document.write_text("Quarterly notes: ship on Friday.")
    kernel.execute(f"D = {str(document)!r}")
    assert kernel.execute("%qwen --file {D} What is this?").reply["content"]["status"] == "ok"
    # A file another tool uploaded under a name a terminal acts on (C1 CSI as UTF-8, the service lists it).
    import openai

    openai.OpenAI(api_key=KEY, base_url=emu.url + "/compatible-mode/v1").files.create(
        file=("report \u009b2J\u009d0;owned\u0007.txt", b"Numbers."), purpose="file-extract")
    files = kernel.execute("%qwen files").stdout
    assert "notes" in files and "report" in files and not _moves_a_terminal(files), files


def test_nbconvert_and_papermill_consoles_get_no_escape_sequence(tmp_path, emulator):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell(f"%load_ext qwen_jupyter\nP = {TERMINAL_ATTACK!r}"),
                      nbformat.v4.new_code_cell("%qwen -m qwen-plus~bad-request,echo,echo-code {P}")]
    path = tmp_path / "hostile.ipynb"
    nbformat.write(notebook, path)
    env = {**os.environ, "QWEN_JUPYTER_BASE_URL": emulator.url, "DASHSCOPE_API_KEY": KEY,
           "QWEN_JUPYTER_DB": str(tmp_path / "qwen.db")}
    for command in ([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", str(path),
                     "--output", str(tmp_path / "out.ipynb")],
                    [sys.executable, "-m", "papermill", "--log-output", str(path), str(tmp_path / "pm.ipynb")]):
        run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert run.returncode != 0 and "plain" in run.stdout + run.stderr
        assert not _moves_a_terminal(run.stdout + run.stderr), command[2]
    cells = nbformat.read(tmp_path / "pm.ipynb", as_version=4).cells
    errors = [o for c in cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert len(errors) == 1 and "plain" in errors[0].traceback[0]  # the saved notebook's one line is clean too
    assert not _moves_a_terminal(errors[0].traceback[0])


def _shown_html(run) -> list[tuple[float, str]]:
    """Every display and update of the cell, in order, with when it arrived: (seconds from the start, html)."""
    return [(m["received"] - run.started, m["content"]["data"].get("text/html", ""))
            for m in run.of("display_data", "update_display_data") if m["content"]["data"]]


def test_a_stall_shows_what_arrived_says_it_is_waiting_and_is_called_a_stall(kernel):
    run = kernel.execute("%qwen -m qwen-plus~stall=3,stall-seconds=6 Tell me about the sea", timeout=30)
    assert "stalled: nothing came for 6 s" in _failure(run)
    arrived = kernel.execute("print(_qwen.text.split()[-1])").stdout.strip()
    shown = _shown_html(run)
    waiting = [t for t, h in shown if "waiting for the model" in h]
    assert waiting and "s since the last words" in next(h for _, h in shown if "waiting for the model" in h)
    # Everything that had arrived was on screen during the stall (it lasts 6 s), not only once it ended.
    answer = [(t, h) for t, h in shown if "qwen-text" in h and "waiting" not in h]
    assert arrived and any(arrived in h for t, h in answer if t < answer[0][0] + 3), (arrived, answer[:3])
    assert len(waiting) <= 8  # about one update a second, not a flood


def test_a_slow_first_token_says_waiting_for_the_model(kernel):
    run = kernel.execute("%qwen -m qwen-plus~delay=2.5 Who are you?", timeout=30)
    assert run.reply["content"]["status"] == "ok"
    shown = _shown_html(run)
    notes = [h for _, h in shown if "waiting for the model" in h]
    assert any("waiting for the model… 1 s" in h for h in notes) and any("2 s" in h for h in notes)
    assert "waiting for the model" not in run.final["text/html"]  # the finished answer replaces the note


@pytest.mark.parametrize(("code", "said"), [
    ("%qwen --size big -m wanx-v1 a red fox", "width*height in pixels, e.g. 1024*1024; not 'big'"),
    ("%qwen --video {PHOTO} What happens here?", "is a picture (image/png), not a video; send it with -i"),
    ("%qwen -m qwen-image-edit make it blue", "qwen-image-edit edits a picture: give it with -i PATH"),
    ("%qwen -o my-var hello", "-o/--out takes a variable name (letters, digits and _), not 'my-var'"),
    ("%qwen --think --no-think hello", "--think and --no-think contradict each other; keep one"),
    ("%qwen --code-interpreter Sum 1 to 10", "qwen-plus has no code interpreter; it runs on qwen3-max"),
    ("%qwen -c new history", "'history' is a %qwen command, not a question: write %qwen history"),
    ("%qwen --temprature 1 hi", "--temprature is not an option of %qwen; did you mean --temperature?"),
    ("%qwen -m", "-m/--model needs a value: model id"),
    ("%qwen record nosuch/dir/c.jsonl", "%qwen record: the folder nosuch/dir does not exist; make it first"),
])
def test_everyday_mistakes_are_one_clear_line_and_send_nothing(code, said, kernel, emu, tmp_path):
    from PIL import Image

    Image.new("RGB", (64, 64), "red").save(tmp_path / "photo.png")
    kernel.execute(f"PHOTO = {str(tmp_path / 'photo.png')!r}")
    before = len(emu.received)
    run = kernel.execute(code)
    assert run.reply["content"]["status"] == "error"
    # A usage error is IPython's one line on stderr; a QwenError its one-line traceback.
    lines = run.stderr.strip().splitlines() if not run.of("error") else [_failure(run)]
    assert len(lines) == 1 and said in lines[0], lines
    assert len(emu.received) == before


def test_a_cassette_that_cannot_be_written_is_one_line(kernel, emu):
    before = len(emu.received)
    run = kernel.execute("%config QwenMagics.cassette = 'nosuch/c.jsonl'\n%config QwenMagics.cassette_mode = 'record'\n"
                         "%qwen hello")
    kernel.execute("%config QwenMagics.cassette = None\n%config QwenMagics.cassette_mode = None")
    said = _failure(run)
    assert "Cannot record into nosuch/c.jsonl: No such file or directory." in said and "\n" not in said
    assert len(emu.received) == before


def test_an_option_without_the_one_it_goes_with_is_refused_not_ignored(kernel, emu):
    from qwen_jupyter.magic.options import OPTIONS

    needing = [option for option in OPTIONS if option.needs]
    assert {o.flags[-1] for o in needing} >= {"--into", "--labels", "--models", "--fields", "--from", "--yes"}
    before = len(emu.received)
    for option in needing:
        value = "" if option.how.get("action") == "store_true" else " 7" if option.how.get("type") else " v7"
        run = kernel.execute(f"%%qwen {option.flags[-1]}{value}\nhello")
        assert run.reply["content"]["status"] == "error", option.flags
        assert run.stderr.strip() == (f"UsageError: {option.flags[-1]} goes with {' or '.join(option.needs)}: add "
                                      f"{'one' if len(option.needs) > 1 else 'it'}, or leave {option.flags[-1]} "
                                      "out (nothing was sent)."), run.stderr
    assert len(emu.received) == before
    # With its partner it is taken.
    assert kernel.execute("def f(x: int) -> int:\n    return x\n").reply["content"]["status"] == "ok"
    assert kernel.execute("%%qwen --tools f --yes --max-rounds 2\nCall f with 3").reply["content"]["status"] == "ok"


def test_tools_in_braces_with_a_space_reset_of_a_typo_and_help(kernel, emu):
    kernel.execute("def f(x: int) -> int:\n    'Double it.'\n    return 2 * x\n\n"
                   "def g(x: int) -> int:\n    'Halve it.'\n    return x // 2")
    run = kernel.execute("%%qwen --tools {[f, g]}\nCall f then g")
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert [t["function"]["name"] for t in emu.received[-1]["body"]["tools"]] == ["f", "g"]
    kernel.execute("%qwen -c trip Plan a day in Lisbon")
    typo = kernel.execute("%qwen reset trpi")
    assert typo.stdout.strip() == "There is no chat 'trpi', so nothing was reset; did you mean 'trip'? " \
                                  "%qwen chats lists them."
    assert "[1]" in kernel.execute("%qwen history trip").stdout  # still there
    helped = kernel.execute("%qwen help").stdout
    assert helped.startswith("%qwen [-m MODEL]") and "::" not in helped.splitlines()[0]
    before = len(emu.received)
    for typed in ("%qwen --help", "%qwen -h", "%%qwen --help\nwhat the cell says is not sent"):
        run = kernel.execute(typed)  # what people type first: the same help, not a usage error
        assert run.reply["content"]["status"] == "ok" and run.stdout == helped, (typed, run.stderr)
    assert len(emu.received) == before
    unknown = kernel.execute("%qwen --zzz hi")
    assert unknown.stderr.strip().endswith("--zzz is not an option of %qwen (%qwen help lists them)")
