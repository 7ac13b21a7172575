"""The operators in a real kernel: %%qwen --map DATA --labels / --filter (with --models, a cascade), the accessor,
the cost summary, the Batch API, an interrupt and a resume, -o on a failed run, and estimated costs in the footer
and in %qwen usage."""

from __future__ import annotations

import pytest

from qwen_jupyter.emulator.choices import unsure

from .conftest import start_kernel
from .test_map_in_kernel import _stored, _when_stored

pytestmark = pytest.mark.e2e

WORDS = ["loved it, great value", "arrived broken, want a refund", "it is a chair", "late and damaged"]
TABLE = "import pandas as pd\ndf = pd.DataFrame({{'text': [f'{{w}} (order {{i}})' for i, w in enumerate({words} * N)]}})"
CASCADE = "--models qwen-flash~unsure=0.3,qwen3-max"


def _table(n: int) -> str:
    return TABLE.format(words=WORDS).replace("N", str(n))


def _texts(n: int) -> list[str]:
    return [f"{w} (order {i})" for i, w in enumerate(WORDS * n)]


def _chat_requests(emu) -> list[dict]:
    return [r for r in emu.received if r["path"].endswith("/chat/completions")]


@pytest.fixture
def fresh(emulator, emu, tmp_path):
    kernel = start_kernel(emulator, tmp_path)
    yield kernel, tmp_path / "qwen.db"
    kernel.shutdown()


def test_labels_with_a_cascade_come_back_as_the_cells_frame_with_what_it_cost(kernel, emu):
    kernel.execute(_table(10))
    run = kernel.execute(f"%%qwen --map df --labels positive,negative,neutral {CASCADE} -o labelled\n"
                         "Review: {text}")
    assert run.reply["content"]["status"] == "ok", run.stderr
    html = run.of("execute_result")[0]["content"]["data"]["text/html"]
    assert "label_confidence" in html and "label_model" in html
    hard = sorted(i for i, text in enumerate(_texts(10)) if unsure(f"Review: {text}", 0.3))
    assert f"{len(hard)} went on to qwen3-max" in run.stdout and "cascade ≈ ¥" in run.stdout
    assert "Costs are estimates at the built-in beijing prices" in run.stdout
    check = kernel.execute("print(list(labelled.columns)); "
                           "print(sorted(labelled.index[labelled.label_model == 'qwen3-max'].tolist()))")
    assert check.stdout.splitlines() == ["['text', 'label', 'label_confidence', 'label_model', 'label_error']",
                                         str(hard)], check.stderr
    estimate = kernel.execute(f"%%qwen --map df --labels positive,negative,neutral {CASCADE} --dry-run\n"
                              "Review: {text}")
    assert "classify() estimate" in estimate.of("execute_result")[0]["content"]["data"]["text/plain"]
    probed = kernel.execute(f"%%qwen --map df --labels positive,negative,neutral {CASCADE} --dry-run --probe 4\n"
                            "Review: {text}")
    assert "measured on a probe of 4 rows" in probed.of("execute_result")[0]["content"]["data"]["text/plain"]


def test_filter_from_the_magic_and_the_accessor_keep_the_rows_answered_yes(kernel, emu):
    kernel.execute(_table(5) + "\nimport qwen_jupyter")
    run = kernel.execute("%%qwen --map df --filter -o negative\nIs this review negative? {text}")
    assert run.reply["content"]["status"] == "ok", run.stderr
    emu.state.received.clear()
    same = kernel.execute("kept = df.qwen.filter('Is this review negative? {text}', progress=False)\n"
                          "print(kept.index.tolist() == negative.index.tolist(), len(kept) < len(df), "
                          "kept.keep.all())")
    assert same.stdout.splitlines()[-1] == "True True True", same.stderr
    assert _chat_requests(emu) == []  # the same requests: answered from the store


def test_through_the_batch_api_from_the_magic(kernel, emu):
    kernel.execute(_table(4))
    run = kernel.execute("%%qwen --map df --labels positive,negative --batch -o batched\nReview: {text}",
                         timeout=60)
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert "The Batch API returns no log probabilities" in run.stdout and "Batch job job-" in run.stdout
    check = kernel.execute("print(set(batched.label_confidence) <= {0.5, 1.0}, batched.label_error.isna().all())")
    assert check.stdout.strip() == "True True", check.stderr
    assert _chat_requests(emu) == []


def test_a_run_that_fails_still_binds_its_rows_to_the_out_name(kernel):
    kernel.execute(_table(3))
    run = kernel.execute("%%qwen --map df --labels positive,negative -m qwen-plus~401 -o partial\nReview: {text}")
    assert run.reply["content"]["status"] == "error" and run.reply["content"]["ename"] == "QwenError"
    mapped = kernel.execute("%%qwen --map df -m qwen-plus~401 -o mapped\nSay {text}")
    assert mapped.reply["content"]["status"] == "error"
    check = kernel.execute("print(len(partial), partial.label_error.str.startswith('401').any(), len(mapped))")
    assert check.stdout.strip() == "12 True 12", check.stderr


def test_an_interrupt_keeps_what_finished_and_the_same_cell_sends_only_the_rest(fresh, emu):
    kernel, db = fresh
    kernel.execute(_table(30))
    cell = "%%qwen --map df --labels positive,negative,neutral --concurrency 4 -m qwen-plus~delay=0.05\n{text}"

    _when_stored(db, 10, kernel.interrupt)
    stopped = kernel.execute(cell, timeout=30)
    assert stopped.reply["content"]["ename"] == "Interrupted"
    kept = _stored(db)
    assert 0 < kept < 120
    emu.state.received.clear()
    done = kernel.execute(cell, timeout=60)
    assert done.reply["content"]["status"] == "ok", done.stderr
    assert len(_chat_requests(emu)) == 120 - kept and _stored(db) == 120


def test_the_footer_and_usage_show_estimated_costs(kernel):
    answer = kernel.execute("%%qwen\nHello there")
    footer = answer.final["text/html"]
    assert "cost ≈ ¥" in footer and "(estimate)" in footer
    usage = kernel.execute("%qwen usage").stdout
    assert "tokens, cost ≈ ¥" in usage and "(estimate)" in usage
    assert "Costs are estimates at the built-in beijing prices" in usage
    asked_there = kernel.execute("%%qwen --region singapore\nHello there").final["text/html"]
    assert "cost ≈ $" in asked_there  # at the prices of the region the cell asked in, not the notebook's
    kernel.execute("%config QwenMagics.region = 'virginia'")
    try:
        assert "cost" not in kernel.execute("%qwen usage").stdout  # no prices there: no number made up
    finally:
        kernel.execute("%config QwenMagics.region = 'beijing'")
