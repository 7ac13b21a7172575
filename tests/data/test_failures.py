"""Issue 17, failure looks like success: an error that will not change stops a run at once, a service that keeps
failing stops it within seconds, and a run that stopped or in which every row failed ends in a QwenError that
carries the rows that finished."""

from __future__ import annotations

import pandas as pd
import pytest

from qwen_jupyter.core.errors import QwenError

from ..conftest import KEY
from .conftest import chat_requests, stored_rows

ROWS = [f"row {i}" for i in range(200)]


@pytest.mark.parametrize("fault, status", [("401", 401), ("403", 403), ("404", 404), ("arrearage", 400)])
def test_an_error_that_will_not_change_stops_the_run_at_once(run, emu, fault, status):
    with pytest.raises(QwenError) as caught:
        run(ROWS, "Say {text}", model=f"qwen-plus~{fault}")
    error = caught.value
    assert error.status == status and len(chat_requests(emu)) <= 8  # the requests already in flight, no more
    line = str(error)
    assert "\n" not in line and "stopped" in line and "error.frame" in line and KEY not in line
    frame = error.frame
    assert len(frame) == 200 and frame["answer"].isna().all() and frame["answer_error"].notna().all()
    assert frame["answer_error"].str.startswith(f"{status} ").sum() == len(chat_requests(emu))


def test_no_key_stops_the_run_at_once_in_one_line(run, emu, monkeypatch):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    with pytest.raises(QwenError) as caught:
        run(ROWS, "Say {text}", api_key=None)
    assert caught.value.code == "NoApiKey" and "\n" not in str(caught.value)
    assert str(caught.value).startswith("map() stopped: No API key: set DASHSCOPE_API_KEY")
    assert chat_requests(emu) == [] and caught.value.frame["answer_error"].eq("Not sent yet.").sum() >= 190


def test_a_bad_model_name_stops_at_once(run, emu):
    with pytest.raises(QwenError, match="model_not_found"):
        run(ROWS, "Say {text}", model="no-such-model")
    assert len(chat_requests(emu)) <= 8


@pytest.mark.parametrize("fault", ["500", "429,retry-after=0.2"])
def test_a_service_that_keeps_failing_stops_within_seconds_keeping_what_finished(run, emu, db, fault):
    rows = [f"ticket {i}" for i in range(30)]
    run(rows[:10], "Route {text}")  # answered before the service went down
    emu.state.received.clear()
    emu.inject(fault, times=10_000)
    try:
        with pytest.raises(QwenError) as caught:
            run(rows, "Route {text}")
    finally:
        emu.state.queued.clear()
    error = caught.value
    # Before: every row tried MAX_ATTEMPTS (8) times through every backoff, 160 requests and ~55 s.
    assert len(chat_requests(emu)) < 60
    assert "kept failing" in str(error) and "\n" not in str(error) and "error.frame" in str(error)
    assert error.frame["answer"].notna().sum() == 10 and error.frame["answer"][:10].notna().all()
    assert stored_rows(db, answered_only=True) == 10
    again = run(rows, "Route {text}")  # the service is back: the same call sends only the rest
    assert again["answer_error"].isna().all() and again.attrs["qwen"]["sent"] == 20


def test_a_run_in_which_every_row_failed_is_an_error(run, emu):
    emu.inject("moderation", times=3)  # refused one by one: the service is fine, these rows are not
    with pytest.raises(QwenError) as caught:
        run(["a", "b", "c"], "Say {text}")
    assert "every row failed" in str(caught.value) and len(caught.value.frame) == 3
    assert caught.value.frame["answer_error"].str.startswith("400 data_inspection_failed").all()


def test_some_failed_rows_still_return_the_frame_and_the_summary_counts_them(run, emu, capsys):
    emu.inject("moderation")
    out = run(["a", "b", "c"], "Say {text}", concurrency=1)
    assert out["answer_error"].notna().sum() == 1
    assert "1 of 3 rows failed" in capsys.readouterr().out


def test_the_text_progress_bar_says_rows_failed(run, emu, capsys):
    emu.inject("moderation", times=2)
    run(["a", "b", "c"], "Say {text}", concurrency=1, progress=True)
    bar = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    assert "2 of 3 rows failed" in bar


def test_the_frame_on_the_error_is_the_same_as_a_returned_one(run, emu):
    emu.inject("401")
    with pytest.raises(QwenError) as caught:
        run(pd.DataFrame({"text": ["a"], "id": [7]}), "Say {text}")
    frame = caught.value.frame
    assert list(frame.columns) == ["text", "id", "answer", "answer_input_tokens", "answer_output_tokens",
                                   "answer_error"]
