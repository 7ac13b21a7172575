"""map(batch=True): rows through the emulator's Files and Batch APIs, joined back by custom_id; failures, splits,
cancel, and picking a job up again from the store (as after a kernel restart)."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest

import qwen_jupyter
from qwen_jupyter.core.settings import Settings
from qwen_jupyter.data import batch as batches
from qwen_jupyter.data.mapping import hex_key
from qwen_jupyter.state.store import Store

from ..conftest import KEY
from .conftest import chat_requests, planned

REVIEWS = pd.DataFrame({"text": [f"review {i}" for i in range(40)], "id": range(40)})


def test_the_batch_answers_are_the_live_answers_joined_back_in_row_order(run, emu, db, tmp_path, capsys):
    out = run(REVIEWS, "Summarise: {text}", batch=True)
    assert chat_requests(emu) == []  # nothing went live
    assert out["answer_error"].isna().all() and list(out["id"]) == list(range(40))
    assert all(f'"Summarise: {t}"' in a for t, a in zip(out["text"], out["answer"], strict=True))
    assert out.attrs["qwen"]["emulated"] and "Batch job job-" in capsys.readouterr().out
    live = run(REVIEWS, "Summarise: {text}", db=str(tmp_path / "live.db"))
    assert list(live["answer"]) == list(out["answer"])
    assert run(REVIEWS, "Summarise: {text}").attrs["qwen"]["sent"] == 0  # stored: the live call sends nothing
    assert len(chat_requests(emu)) == 40  # only the live run to the other database


def test_the_batch_file_holds_the_same_bodies_a_live_request_sends(run, emu, db):
    job_id = _submit(emu, db, rows=2, temperature=0.2)
    store = Store(db)
    try:
        (batch,) = store.batch_jobs(job_id)[0]["batches"]
    finally:
        store.close()
    lines = [json.loads(line) for line in emu.state.files[batch["input_file_id"]]["data"].splitlines()]
    assert [line["url"] for line in lines] == ["/v1/chat/completions"] * 2
    body = lines[0]["body"]
    assert body["model"] == "qwen-plus" and body["temperature"] == 0.2 and body["enable_thinking"] is False
    assert body["stream"] is False and "extra_body" not in body
    run(["row 0"], "Say {text}", temperature=0.2)
    assert chat_requests(emu)[0]["body"] == body


def test_failed_lines_are_errors_and_the_next_call_sends_only_them(run, emu):
    emu.inject("500", times=3)
    out = run(REVIEWS, "Grade: {text}", batch=True)
    failed = out[out["answer_error"].notna()]
    assert len(failed) == 3 and failed["answer_error"].str.startswith("internal_error: ").all()
    again = run(REVIEWS, "Grade: {text}")
    assert len(chat_requests(emu)) == 3 and again["answer_error"].isna().all()


def test_a_batch_that_fails_validation_fails_every_row_with_the_reason(run):
    with pytest.raises(qwen_jupyter.QwenError, match="every row failed") as caught:
        run(REVIEWS.head(5), "Grade: {text}", batch=True, model="no-such-model")
    assert caught.value.frame["answer_error"].str.contains("failed \\(model_not_found").all()


def test_a_job_past_the_line_limit_is_split_and_joined_back(run, emu, db):
    out = run(REVIEWS, "Split: {text}", batch=True, batch_lines=15)
    assert out["answer_error"].isna().all()
    store = Store(db)
    try:
        (job,) = store.batch_jobs()
    finally:
        store.close()
    assert [len(b["keys"]) for b in job["batches"]] == [15, 15, 10]
    assert {b["status"] for b in job["batches"]} == {"completed"} and job["status"] == "collected"
    assert len({b["input_file_id"] for b in job["batches"]}) == 3
    assert not {b["input_file_id"] for b in job["batches"]} & set(emu.state.files)  # deleted once collected


def test_batch_files_are_cut_at_the_line_and_byte_limits_as_they_are_written(emu):
    requests, plan = planned(Settings(base_url=emu.url, api_key=KEY), [f"row {i}" for i in range(7)])
    files = list(batches.parts(requests.rows(plan.todo), max_lines=3))
    assert [len(keys) for _, keys in files] == [3, 3, 1]
    assert [json.loads(line)["custom_id"] for data, _ in files for line in data.splitlines()] == \
        [hex_key(key) for key in plan.keys]
    size = len(files[0][0].splitlines()[0]) + 1  # every line here is as long as the first
    assert [len(keys) for _, keys in batches.parts(requests.rows(plan.todo), max_bytes=2 * size + 1)] == [2, 2, 2, 1]


def _submit(emu, db, rows=60, **options):
    """Start a job without waiting for it (as a kernel that restarts right after would)."""
    settings = Settings(base_url=emu.url, api_key=KEY)
    requests, plan = planned(settings, [f"row {i}" for i in range(rows)], **options)
    spec = {"model": "qwen-plus", "into": "answer", "schema": None, "keys": [hex_key(key) for key in plan.keys],
            "rows": requests.template.frame.to_dict("records")}
    store = Store(db)
    try:
        return batches.submit(settings, store, requests.rows(plan.todo), spec)
    finally:
        store.close()


def test_batch_result_picks_a_job_up_by_its_id_from_a_new_process_store(emu, db, batch_clock):
    job_id = _submit(emu, db)
    out = qwen_jupyter.batch_result(job_id, db=db, base_url=emu.url, api_key=KEY, progress=False)
    assert len(out) == 60 and out["answer_error"].isna().all() and out["answer"][59].count("row 59") == 1
    batch_id = Store(db).batch_jobs(job_id)[0]["batches"][0]["id"]
    again = qwen_jupyter.batch_result(batch_id, db=db, base_url=emu.url, api_key=KEY)  # by batch id, collected
    assert list(again["answer"]) == list(out["answer"])


def test_cancel_keeps_the_rows_done_and_marks_the_rest(emu, db, batch_clock, capsys):
    batch_clock.batch_lines_per_second = 50
    job_id = _submit(emu, db, rows=200)
    time.sleep(0.3)
    qwen_jupyter.batch_cancel(job_id, db=db, base_url=emu.url, api_key=KEY)
    assert "cancelling" in capsys.readouterr().out
    out = qwen_jupyter.batch_result(job_id, db=db, base_url=emu.url, api_key=KEY, progress=False)
    done = out["answer_error"].isna().sum()
    assert 0 < done < 200
    assert out.loc[out["answer_error"].notna(), "answer_error"].str.startswith("batch_cancelled").all()


def test_an_unknown_job_is_a_clear_error(db):
    with pytest.raises(qwen_jupyter.QwenError, match="No batch job 'job-nope'"):
        qwen_jupyter.batch_result("job-nope", db=db, offline="on")


def test_percent_qwen_batches_lists_and_cancels_jobs(emu, db, batch_clock, capsys):
    from types import SimpleNamespace

    from qwen_jupyter.magic.commands import COMMANDS

    store = Store(db)
    magics = SimpleNamespace(settings=lambda: Settings(base_url=emu.url, api_key=KEY),
                             session=SimpleNamespace(store=store))  # what the command reads of QwenMagics
    batch_clock.batch_lines_per_second = 20
    job_id = _submit(emu, db, rows=100)
    try:
        COMMANDS["batches"].run(magics, "")
        assert f"{job_id}  qwen-plus  100 rows  running: batch_" in capsys.readouterr().out
        COMMANDS["batches"].run(magics, f"cancel {job_id}")
        assert "cancelling" in capsys.readouterr().out
        time.sleep(0.1)
        COMMANDS["batches"].run(magics, "")
        assert "cancelled" in capsys.readouterr().out
    finally:
        store.close()


def test_a_row_missing_a_field_stays_out_of_the_batch_file_and_is_marked_after_a_restart(run, emu, db):
    out = run([{"text": "a"}, {"text": None}, {"text": "c"}], "Say {text}", batch=True)
    assert out["answer_error"].tolist()[1] == "Not sent: no value for 'text'."
    assert out["answer"].notna().tolist() == [True, False, True]
    store = Store(db)
    try:
        (job,) = store.batch_jobs()
    finally:
        store.close()
    assert [len(b["keys"]) for b in job["batches"]] == [2]  # the row without a value was never written
    again = qwen_jupyter.batch_result(job["id"], db=db, base_url=emu.url, api_key=KEY, progress=False)
    assert again["answer_error"].tolist() == out["answer_error"].tolist()
