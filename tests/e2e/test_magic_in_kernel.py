"""%%qwen and %qwen driven through a real kernel, against the emulator, as a notebook front end drives them."""

from __future__ import annotations

import json
import threading
import time

import pytest

from ..conftest import APIS, KEY
from .conftest import start_kernel

pytestmark = pytest.mark.e2e


def _failure(run) -> str:
    """The one line a failed cell shows (its error's traceback), after checking it is one line."""
    errors = run.of("error")
    assert run.reply["content"]["status"] == "error" and len(errors) == 1, run.stderr
    lines = errors[0]["content"]["traceback"]
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    return lines[0]


def _max_per_second(times: list[float]) -> int:
    """The most messages in any one-second window."""
    return max((sum(1 for t in times if start <= t < start + 1.0) for start in times), default=0)


def test_streams_progressively_within_the_message_budget(kernel, emu):
    run = kernel.execute("%%qwen -m qwen-plus~long=6000,chunk=6,slow=0.002\nTell me a long story.")
    assert run.reply["content"]["status"] == "ok"
    displays = run.of("display_data")
    updates = run.of("update_display_data")
    assert len(displays) + len(updates) > 10  # the answer really streamed in steps
    assert all(m["content"]["data"] == {} for m in displays[:-1])  # streaming outputs start empty (nbval skips)
    assert run.of("clear_output")[0]["content"]["wait"] is True
    assert _max_per_second([m["received"] for m in run.display_messages]) <= 12
    streamed = sum(len(json.dumps(m["content"].get("data", {}))) for m in run.display_messages)
    assert streamed < 5 * 6000  # O(n): blocks are sent once, not the whole answer on every update
    final = run.final
    assert set(final) == {"text/html", "text/markdown", "text/plain"}
    assert final["text/markdown"] == final["text/html"]  # one sanitized page; as Markdown, one raw block
    assert "emulated" in final["text/html"] and len(final["text/plain"]) > 6000


@pytest.mark.parametrize("api", APIS)
def test_each_api_answers_through_the_magic(api, kernel):
    kernel.execute(f"%config QwenMagics.api = '{api}'")
    run = kernel.execute("%%qwen\nWho are you?")
    assert "I am a large language model created by Alibaba Cloud" in run.final["text/markdown"]
    check = kernel.execute("print(_qwen.api, _qwen.error, _qwen.usage.total_tokens > 0, _qwen.emulated)")
    assert check.stdout.split() == [api, "None", "True", "True"]


def test_reasoning_is_shown_beside_the_answer_and_kept(kernel):
    run = kernel.execute("%%qwen --think --budget 30\nWhy is the sky blue?")
    markdown = run.final["text/markdown"]
    assert 'class="qwen-columns"' in markdown and "<summary><b>Reasoning</b></summary>" in markdown
    assert markdown.index("Okay, the user asks") < markdown.index('class="qwen-answer"')
    assert run.final["text/plain"].startswith("Reasoning:\n  Okay")
    streamed = [m["content"]["data"].get("text/html", "") for m in run.of("update_display_data")]
    assert any('class="qwen-reasoning"' in s for s in streamed)  # reasoning streamed in its own style


def test_result_variables_and_session(kernel):
    kernel.execute("%%qwen -o answer\nWho are you?")
    check = kernel.execute(
        "import qwen_jupyter\n"
        "s = qwen_jupyter.session()\n"
        "print(answer is _qwen, answer.text[:4], answer.finish_reason, len(answer.raw) > 3,"
        " answer.messages[-1]['content'], s.last is answer, answer.request_id is not None)")
    assert check.stdout.split() == ["True", "I", "am", "stop", "True", "Who", "are", "you?", "True", "True"]


def test_interpolation_of_names_expressions_tables_and_images(kernel, emu):
    kernel.execute("import pandas as pd\nfrom PIL import Image\n"
                   "df = pd.DataFrame({'x': range(50), 'y': range(50)})\nimg = Image.new('RGB', (40, 40), 'red')")
    run = kernel.execute("%%qwen -m qwen-vl-max\nRows: {len(df)}; braces: {{kept}}\n{df}\nLook at {img}")
    prompt = emu.received[-1]["body"]["messages"][-1]["content"]
    text = next(p["text"] for p in prompt if p["type"] == "text")
    assert "Rows: 50; braces: {kept}" in text and "| 19 | 19 | 19 |" in text and "(showing 20 of 50 rows)" in text
    assert "Look at [image 1]" in text and prompt[0]["type"] == "image_url"
    assert "I received 1 image" in run.final["text/markdown"]
    assert '<img src="data:image/png;base64,' in run.final["text/markdown"]  # the input's thumbnail


def test_image_option_from_a_file_and_a_variable(kernel, emu, tmp_path):
    from PIL import Image

    path = tmp_path / "cat.png"
    Image.new("RGB", (30, 30), "white").save(path)
    kernel.execute("from PIL import Image\nsmall = Image.new('RGB', (20, 20))")
    run = kernel.execute(f"%%qwen -m qwen-vl-max -i {path} -i {{small}}\nCompare these.")
    assert "I received 2 images" in run.final["text/markdown"]


def test_bad_input_is_one_line_and_sends_nothing(kernel, emu, reliability):
    cases = [
        ("%%qwen\nHello {nobody}", "'nobody' is not defined"),
        ("%%qwen -i missing.png\nHello", "The image file 'missing.png' does not exist"),
        ("%%qwen --temprature 1\nHello", "did you mean --temperature?"),
        ("%qwen", "Nothing to ask"),
        ("%qwen histroy", "did you mean %qwen history"),
        ("%%qwen -m qwen-plus -i https://example.com/cat.png\nLook", "qwen-plus takes text only"),
        ("%qwen offline maybe", "Usage: %qwen offline on|off|auto (or 1/0, true/false, yes/no)."),
        ("%qwen --fiel notes.txt Summarise", "did you mean --fields or --file?"),  # not taken as --fields
        ("%qwen --compare qwen-plus, qwen-max Hi", "without spaces after the commas"),
        ("%qwen --ocr table_parsing", "--ocr reads a picture"),
    ]
    for cell, expected in cases:
        run = kernel.execute(cell)
        shown = run.stderr if "UsageError" in run.stderr else _failure(run)
        reliability.add("Bad inputs", "magic input (undefined name, missing file, typos, wrong media, bad value)",
                        tried=1, failed=int(expected not in shown or "Traceback" in run.stderr))
        assert expected in shown, shown
        assert "Traceback" not in run.stderr
    assert emu.received == []


def test_the_offline_switch_takes_the_words_people_use_in_the_command_and_the_setting(kernel):
    said = kernel.execute("%qwen offline yes")
    assert said.stdout.strip() == "Offline mode: on."
    kernel.execute("%config QwenMagics.offline = '0'")
    check = kernel.execute("print(get_ipython().find_cell_magic('qwen').__self__.offline)")
    assert check.stdout.strip() == "off", check.stderr
    bad = kernel.execute("%config QwenMagics.offline = 'maybe'")
    assert "QwenMagics.offline must be on, off or auto (1, true, yes; 0, false, no), not 'maybe'." in bad.stderr
    kernel.execute("%config QwenMagics.offline = None")


@pytest.mark.parametrize(("fault", "words"), [
    ("401", ["401", "InvalidApiKey", "Keys are bound to their region"]),
    ("moderation", ["400", "DataInspectionFailed", "rephrase"]),
    ("arrearage", ["Arrearage", "overdue"]),
    ("429,retry-after=0", ["429", "Throttling.RateQuota"]),
    ("drop=3", ["IncompleteStream", "partial answer"]),
])
def test_service_errors_show_as_a_short_box(fault, words, kernel):
    kernel.execute("%config QwenMagics.api = 'dashscope'")
    run = kernel.execute(f"%%qwen -m qwen-plus~{fault}\nhello there dear friend")
    assert words[0] in _failure(run)  # the cell fails, in one line, after showing the box
    markdown = run.final["text/markdown"]
    assert 'class="qwen-error ' in markdown and "request id" in markdown
    assert all(w in markdown for w in words), markdown
    assert KEY not in json.dumps(run.messages, default=str)


def test_debug_shows_a_traceback_for_bad_input(kernel):
    run = kernel.execute("%%qwen --debug\nHello {nobody}")
    assert run.of("error") and "QwenError" in run.of("error")[0]["content"]["ename"]


def test_rerun_replaces_the_cells_turn(kernel, emu):
    kernel.execute("%%qwen -c maths\nFirst question", cell_id="a")
    kernel.execute("%%qwen -c maths\nSecond question", cell_id="b")
    assert len(emu.received[-1]["body"]["messages"]) == 3  # a's turn, then b's prompt
    kernel.execute("%%qwen -c maths\nFirst question, reworded", cell_id="a")
    assert len(emu.received[-1]["body"]["messages"]) == 1  # nothing came before cell a
    kernel.execute("%%qwen -c maths\nSecond question", cell_id="b")
    sent = emu.received[-1]["body"]["messages"]
    assert [m["content"] for m in sent[::2]] == ["First question, reworded", "Second question"]
    history = kernel.execute("%qwen history maths").stdout
    assert history.count("you:") == 2 and "reworded" in history


def test_deleted_cells_leave_the_conversation(kernel):
    kernel.execute("%%qwen\nKeep me", cell_id="keep")
    kernel.execute("%%qwen\nDelete me", cell_id="gone")
    kernel.execute("1", deleted=["gone"])
    kernel.execute("%%qwen\nAfter", cell_id="after")
    history = kernel.execute("%qwen history").stdout
    assert "Keep me" in history and "Delete me" not in history


@pytest.mark.parametrize(("option", "check"), [
    ("--json", lambda body, run: body["response_format"] == {"type": "json_object"}),
    ("-s 'Be terse.'", lambda body, run: body["messages"][0] == {"role": "system", "content": "Be terse."}),
    ("-t 0.2 --max-tokens 50 --seed 3", lambda body, run: (body["temperature"], body["max_tokens"], body["seed"])
     == (0.2, 50, 3)),
    ("--no-think", lambda body, run: body["enable_thinking"] is False),
    ("--search", lambda body, run: body["enable_search"] is True),
    ("--region singapore", lambda body, run: True),  # base_url still wins: the emulator answered
    ("-m qwen-turbo", lambda body, run: body["model"] == "qwen-turbo"),
    ("--api dashscope", lambda body, run: "input" in body),
    ("-f text", lambda body, run: set(run.final) == {"text/plain"}),
    ("-q", lambda body, run: run.final == {}),
])
def test_options_reach_the_request(option, check, kernel, emu):
    run = kernel.execute(f"%%qwen {option}\nReply in json: who are you?")
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert check(emu.received[-1]["body"], run)


def test_json_result_and_code_format(kernel):
    kernel.execute("%%qwen --json\nGive json")
    assert kernel.execute("print(_qwen.json()['emulated'])").stdout.strip() == "True"
    run = kernel.execute("%%qwen -f code\nWrite python code")
    payload = run.reply["content"]["payload"]
    assert payload and payload[0]["source"] == "set_next_input"
    assert payload[0]["text"] == "print('hello from the emulator')" and payload[0]["replace"] is False


def test_once_and_new(kernel):
    kernel.execute("%%qwen\nRemember me")
    kernel.execute("%%qwen --once\nA side question")
    assert "side question" not in kernel.execute("%qwen history").stdout
    kernel.execute("%%qwen --new\nFresh start")
    history = kernel.execute("%qwen history").stdout
    assert "Fresh start" in history and "Remember me" not in history


def test_commands_chats_usage_export_log(kernel, tmp_path):
    kernel.execute("%%qwen -c notes\nAlpha bravo charlie")
    assert "notes: 1 turn," in kernel.execute("%qwen chats").stdout
    assert "total:" in kernel.execute("%qwen usage").stdout
    target = tmp_path / "notes.json"
    kernel.execute(f"%qwen export notes {target}")
    exported = json.loads(target.read_text())
    assert [m["role"] for m in exported["messages"]] == ["user", "assistant"]
    assert "bravo" in kernel.execute("%qwen log search bravo").stdout
    assert "Usage: %qwen export" in kernel.execute("%qwen export notes").stderr
    assert "%%qwen" in kernel.execute("%qwen help").stdout


def test_config_traits(kernel, emu):
    kernel.execute("%config QwenMagics.model = 'qwen-max'\n%config QwenMagics.system = 'Answer in French.'")
    kernel.execute("%%qwen\nhi")
    body = emu.received[-1]["body"]
    assert body["model"] == "qwen-max" and body["messages"][0]["content"] == "Answer in French."
    kernel.execute("%config QwenMagics.system = None")
    bad = kernel.execute("%config QwenMagics.timeout = -1")
    assert "timeout must be positive" in bad.stderr + json.dumps(bad.of("error"))


def test_interrupt_stops_within_a_second_and_keeps_the_partial_answer(kernel, emu):
    kernel.execute("%config QwenMagics.api = 'dashscope'")
    interrupted_at: list[float] = []

    def interrupt_on_text(msg):
        if msg["msg_type"] == "update_display_data" and not interrupted_at:
            interrupted_at.append(time.perf_counter())
            threading.Thread(target=kernel.interrupt).start()

    run = kernel.execute("%%qwen -m qwen-plus~long=4000,chunk=4,slow=0.01\nA long answer please",
                         cell_id="slow", on_message=interrupt_on_text)
    ended = run.messages[-1]["received"]
    assert ended - interrupted_at[0] < 1.0
    assert run.reply["content"]["ename"] == "Interrupted" and "partial answer is kept" in _failure(run)
    markdown = run.final["text/markdown"]
    assert "⏹ Interrupted" in markdown and "emulated" in markdown
    time.sleep(0.2)
    assert emu.state.disconnected  # the HTTP stream was closed, not left running
    check = kernel.execute("print(_qwen.interrupted, 0 < len(_qwen.text) < 4000)")
    assert check.stdout.split() == ["True", "True"]
    assert "[interrupted]" in kernel.execute("%qwen history").stdout
    follow = kernel.execute("%%qwen\nAnd then?", cell_id="next")
    assert follow.reply["content"]["status"] == "ok"
    assert [m["role"] for m in emu.received[-1]["body"]["input"]["messages"]] == ["user", "assistant", "user"]


def test_interrupt_ends_a_fast_long_stream_at_once(kernel, emu, reliability):
    # The old view swallowed an interrupt that landed in display code and resumed the same stream in finish().
    interrupted_at: list[float] = []

    def interrupt_on_text(msg):
        if msg["msg_type"] == "update_display_data" and not interrupted_at:
            interrupted_at.append(time.perf_counter())
            threading.Thread(target=kernel.interrupt).start()

    run = kernel.execute("%%qwen -m qwen-plus~long=20000000,chunk=2000\nAn endless answer", cell_id="fast",
                         on_message=interrupt_on_text, timeout=120)
    stopped = run.messages[-1]["received"] - interrupted_at[0] < 2.0
    check = kernel.execute("print(_qwen.interrupted, len(_qwen.text) < 20000000)")
    reliability.add("Faults", "interrupt during a fast 20 MB stream", tried=1,
                    failed=int(not stopped or check.stdout.split() != ["True", "True"]))
    assert stopped and check.stdout.split() == ["True", "True"]


def test_a_runaway_answer_stops_at_the_configured_size(kernel):
    kernel.execute("%config QwenMagics.max_answer_chars = 50000")
    run = kernel.execute("%%qwen -m qwen-plus~long=400000,chunk=500\nGo on forever")
    kernel.execute("%config QwenMagics.max_answer_chars = 4000000")
    assert "AnswerTooLong" in run.final["text/html"] and "50,000 characters" in run.final["text/html"]
    check = kernel.execute("print(_qwen.error.code, 50000 < len(_qwen.text) <= 50500)")
    assert check.stdout.split() == ["AnswerTooLong", "True"]


def test_conversations_survive_a_kernel_restart(emulator, tmp_path):
    kernel = start_kernel(emulator, tmp_path)
    try:
        kernel.execute("%%qwen -c trip\nPlan a trip to Hangzhou", cell_id="c1")
        kernel.restart()
        kernel.execute("%load_ext qwen_jupyter")
        history = kernel.execute("%qwen history trip").stdout
        assert "Plan a trip to Hangzhou" in history
        kernel.execute("%%qwen -c trip\nAnd the food?", cell_id="c2")
        assert len(emulator.received[-1]["body"]["messages"]) == 3
    finally:
        kernel.shutdown()



def test_video_frames_and_audio_options(kernel, emu, tmp_path):
    audio = tmp_path / "note.wav"
    audio.write_bytes(b"RIFF0000WAVEfmt ")
    kernel.execute("frames = ['https://example.com/f%d.jpg' % i for i in range(4)]")
    run = kernel.execute("%%qwen -m qwen-vl-max --video {frames}\nWhat happens?")
    assert "I received 1 video" in run.final["text/markdown"]
    assert emu.received[-1]["body"]["messages"][-1]["content"][0]["video"][3] == "https://example.com/f3.jpg"
    run = kernel.execute(f"%%qwen -m qwen3-omni-flash --audio {audio}\nTranscribe")
    assert "I received 1 audio clip" in run.final["text/markdown"]


def test_search_sources_are_listed(kernel):
    run = kernel.execute("%%qwen --api dashscope --search\nToday's news")
    markdown = run.final["text/markdown"]
    assert "<b>Sources</b>" in markdown and 'href="https://example.com/emulated/1"' in markdown
    assert "[1] Emulated source 1" in run.final["text/plain"]


@pytest.mark.parametrize(("fault", "code"), [("403", "access_denied"), ("404", "model_not_found"),
                                            ("500", "internal_error")])
def test_more_service_errors(fault, code, kernel):
    kernel.execute("%config QwenMagics.max_retries = 0")
    run = kernel.execute(f"%%qwen -m qwen-plus~{fault}\nhi")
    kernel.execute("%config QwenMagics.max_retries = 2")
    assert 'class="qwen-error ' in run.final["text/html"] and code in run.final["text/html"]


def test_login_asks_without_echo_and_never_shows_the_key(kernel):
    secret = "sk-login-secret-0123456789"
    client = kernel.client
    message = client.session.msg("execute_request", {
        "code": "%qwen login", "silent": False, "store_history": True, "user_expressions": {},
        "allow_stdin": True, "stop_on_error": True}, metadata={"cellId": "login"})
    client.shell_channel.send(message)
    request = client.get_stdin_msg(timeout=20)
    assert request["content"]["password"] is True  # the front end hides what is typed
    client.input(secret)
    outputs = []
    while True:
        msg = client.get_iopub_msg(timeout=20)
        if msg["parent_header"].get("msg_id") == message["header"]["msg_id"]:
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            outputs.append(msg)
    kernel.reply_to(message["header"]["msg_id"])
    assert "Key set for this kernel session" in json.dumps(outputs, default=str)
    later = kernel.execute("%qwen config\nm = get_ipython().magics_manager.registry['QwenMagics']\n"
                           "print(repr(m.key), m.key)\n%history -g login")
    everything = json.dumps(outputs, default=str) + json.dumps(later.messages, default=str)
    assert "key set" in later.stdout and secret not in everything
    kernel.execute("get_ipython().magics_manager.registry['QwenMagics'].key = None")


def test_panel_and_magic_share_a_conversation(kernel, emu):
    run = kernel.execute("%qwen panel shared")
    assert run.final["text/plain"] == "QwenPanel(chat='shared', turns=0)"
    check = kernel.execute(
        "import qwen_jupyter\np = qwen_jupyter.Panel(chat='shared')\nr = p.ask('Hello from the panel')\np.wait(30)\n"
        "print(_qwen is p.last, r.error)")
    assert check.stdout.split() == ["True", "None"]
    assert "Hello from the panel" in kernel.execute("%qwen history shared").stdout
    kernel.execute("%%qwen -c shared\nAnd from a cell")
    assert [m["role"] for m in emu.received[-1]["body"]["messages"]] == ["user", "assistant", "user"]


def test_record_then_replay_through_the_magic(kernel, emu, tmp_path):
    cassette = tmp_path / "lesson.jsonl"
    kernel.execute(f"%qwen record {cassette}")
    live = kernel.execute("%%qwen --once\nWho are you?")
    assert "I am a large language model" in live.final["text/markdown"]
    assert "qwen-emulated" in live.final["text/html"]  # recorded from the emulator: still labelled
    before = len(emu.received)
    kernel.execute(f"%qwen replay {cassette}")
    replayed = kernel.execute("%%qwen --once\nWho are you?")
    assert len(emu.received) == before  # answered from the cassette, not the service
    assert "I am a large language model" in replayed.final["text/markdown"]
    missing = kernel.execute("%%qwen --once\nSomething never recorded")
    assert "cassette_miss" in missing.final["text/markdown"] and "closest is recording #1" in missing.final["text/markdown"]
    kernel.execute(f"%qwen replay {cassette} --lenient")
    lenient = kernel.execute("%%qwen --once\nSomething never recorded")
    assert "Not in the cassette" in lenient.final["text/markdown"]
    kernel.execute("%qwen live")
    kernel.execute("%%qwen --once\nWho are you?")
    assert len(emu.received) == before + 1
