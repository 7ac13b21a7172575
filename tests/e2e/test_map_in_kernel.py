"""%%qwen --map in a real kernel: the cell is the template, the DataFrame comes back as the cell's value; an
interrupt and a kernel restart (live and batch) lose nothing and pay for nothing twice."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest

from qwen_jupyter.state.store import Store

from .conftest import start_kernel

pytestmark = pytest.mark.e2e

TABLE = "import pandas as pd\ndf = pd.DataFrame({'text': [f'item {i}' for i in range(N)]})"


def _chat_requests(emu) -> int:
    return sum(1 for r in emu.received if r["path"].endswith("/chat/completions"))


def _stored(path) -> int:
    store = Store(str(path))
    try:
        return store.db.execute("SELECT count(*) FROM answers WHERE error IS NULL").fetchone()[0]
    finally:
        store.close()


def _when_stored(path, more_than: int, action) -> None:
    """Call action (from another thread) once the database holds more than `more_than` answered rows."""

    def watch() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # the kernel may not have made the database yet
                if _stored(path) > more_than:
                    break
            time.sleep(0.02)
        action()

    threading.Thread(target=watch, daemon=True).start()


@pytest.fixture
def fresh(emulator, emu, tmp_path):
    kernel = start_kernel(emulator, tmp_path)
    yield kernel, tmp_path / "qwen.db"
    kernel.shutdown()
    emu.state.batch_lines_per_second = 5000.0


def test_the_cell_is_the_template_and_the_frame_is_its_value(fresh, emu):
    kernel, _ = fresh
    kernel.execute(TABLE.replace("N", "5") + "\nprefix = 'Label'")
    run = kernel.execute("%%qwen --map df --into label -o labelled --no-think\n{prefix} this: {text}")
    assert run.reply["content"]["status"] == "ok", run.stderr
    (value,) = run.of("execute_result")
    assert "<table" in value["content"]["data"]["text/html"] and "label_error" in value["content"]["data"]["text/html"]
    check = kernel.execute("print(list(labelled.columns), labelled.label.str.contains('Label this: item').all())")
    assert check.stdout.split("\n")[0] == "['text', 'label', 'label_input_tokens', 'label_output_tokens', " \
                                          "'label_error'] True"
    schema = kernel.execute("from pydantic import BaseModel\nclass Tag(BaseModel):\n    topic: str\n    score: int\n"
                            "out = df.qwen.map('Tag as JSON: {text}', schema=Tag, progress=False)\n"
                            "print(list(out.columns)[:3], out.score.tolist())")
    assert schema.stdout.split("\n")[0] == "['text', 'topic', 'score'] [1, 1, 1, 1, 1]", schema.stderr


def test_dry_run_and_bad_input_are_one_line(fresh):
    kernel, _ = fresh
    kernel.execute(TABLE.replace("N", "3"))
    preview = kernel.execute("%%qwen --map df --dry-run\nSay {text}")
    assert "3 rows, 3 requests to send" in preview.of("execute_result")[0]["content"]["data"]["text/plain"]
    missing = kernel.execute("%%qwen --map nothing_here\nSay {text}")
    assert missing.reply["content"]["status"] == "error"
    assert missing.stderr == ("UsageError: 'nothing_here' is not defined; --map and --schema take a variable of "
                              "the notebook (or an {expression}).\n")  # IPython's one line for a UsageError


def test_an_interrupt_then_a_kernel_restart_resume_where_they_stopped(fresh, emu):
    kernel, db = fresh
    cell = "%%qwen --map df --concurrency 4 -m qwen-plus~delay=0.05\nSay {text}"
    kernel.execute(TABLE.replace("N", "120"))
    _when_stored(db, 10, kernel.interrupt)
    stopped = kernel.execute(cell, timeout=30)
    assert stopped.reply["content"]["ename"] == "Interrupted"
    assert "every finished row is stored" in stopped.of("error")[0]["content"]["traceback"][0]
    after_interrupt = _stored(db)
    assert 0 < after_interrupt < 120

    emu.state.received.clear()
    _when_stored(db, after_interrupt + 10, kernel.restart)  # the kernel dies mid-run, with requests in flight
    with contextlib.suppress(Exception):  # the restart cuts the execution off: no reply comes
        kernel.execute(cell, timeout=10)
    time.sleep(1.0)
    after_restart = _stored(db)
    assert after_interrupt < after_restart < 120

    kernel.execute("%load_ext qwen_jupyter\n" + TABLE.replace("N", "120"))
    emu.state.received.clear()
    done = kernel.execute(cell, timeout=60)
    assert done.reply["content"]["status"] == "ok", done.stderr
    assert _chat_requests(emu) == 120 - after_restart
    assert _stored(db) == 120


def test_a_batch_job_survives_a_kernel_restart(fresh, emu):
    kernel, _ = fresh
    emu.state.batch_lines_per_second = 15
    kernel.execute(TABLE.replace("N", "60"))
    threading.Timer(1.5, kernel.interrupt).start()
    waiting = kernel.execute("%%qwen --map df --batch --into summary\nSummarise {text}", timeout=30)
    assert "keeps running on the service" in waiting.stdout
    job_id = waiting.stdout.split("Batch job ")[1].split(":")[0]
    kernel.restart()
    kernel.execute("%load_ext qwen_jupyter")
    listed = kernel.execute("%qwen batches").stdout
    assert job_id in listed and "60 rows" in listed
    picked = kernel.execute(f"import qwen_jupyter\nout = qwen_jupyter.batch_result({job_id!r})\n"
                            "print(len(out), out.summary_error.isna().all(), out.summary[59])", timeout=30)
    assert picked.stdout.startswith("60 True"), picked.stderr
    assert "Summarise item 59" in picked.stdout
    assert "collected" in kernel.execute("%qwen batches").stdout


def test_a_run_that_stops_on_an_error_ends_the_cell_in_one_line_with_a_red_bar(fresh):
    kernel, _ = fresh
    kernel.execute(TABLE.replace("N", "50"))
    run = kernel.execute("%%qwen --map df -m qwen-plus~401\nSay {text}")
    assert run.reply["content"]["status"] == "error" and run.reply["content"]["ename"] == "QwenError"
    (line,) = run.of("error")[0]["content"]["traceback"]  # one line, no traceback of the library
    assert "stopped" in line and "Invalid API-key" in line and "0 of 50 rows have answers" in line
    states = [m["content"]["data"].get("state", {}) for m in run.of("comm_open", "comm_msg")]
    assert "danger" in [state.get("bar_style") for state in states]  # the progress bar in the error style
    assert "sk-test" not in line + run.stdout + run.stderr
    after = kernel.execute("import sys\nprint(sys.last_value.frame.answer_error.str.startswith('401').sum() <= 8)")
    assert after.stdout.strip() == "True", after.stderr
