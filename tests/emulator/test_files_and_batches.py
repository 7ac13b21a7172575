"""The emulator's Files and Batch APIs, driven by the real openai SDK as a program would drive Model Studio."""

from __future__ import annotations

import json
import time

import openai
import pytest

from qwen_jupyter.emulator.state import State

from ..conftest import KEY


@pytest.fixture
def client(emu):
    defaults = State()
    with openai.OpenAI(api_key=KEY, base_url=emu.url + "/compatible-mode/v1", max_retries=0) as sdk:
        yield sdk
    for name in ("batch_phase_seconds", "batch_lines_per_second", "batch_clock", "parse_seconds"):
        setattr(emu.state, name, getattr(defaults, name))


def _line(custom_id: str, text: str = "hello", model: str = "qwen-plus", url: str = "/v1/chat/completions") -> dict:
    return {"custom_id": custom_id, "method": "POST", "url": url,
            "body": {"model": model, "messages": [{"role": "user", "content": text}]}}


def _upload(client, lines: list[dict]) -> str:
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    return client.files.create(file=("input.jsonl", data), purpose="batch").id


def _until(client, batch_id: str, states: tuple[str, ...], seconds: float = 10) -> object:
    deadline = time.monotonic() + seconds
    while True:
        batch = client.batches.retrieve(batch_id)
        if batch.status in states or time.monotonic() > deadline:
            return batch
        time.sleep(0.02)


def test_files_upload_list_retrieve_and_delete_for_both_purposes(client):
    batch_file = client.files.create(file=("in.jsonl", b'{"a": 1}\n'), purpose="batch")
    document = client.files.create(file=("notes.txt", b"Some notes."), purpose="file-extract")
    assert batch_file.id.startswith("file-batch-") and document.id.startswith("file-fe-")
    assert (document.bytes, document.filename, document.purpose, document.status) == (11, "notes.txt",
                                                                                       "file-extract", "processed")
    assert client.files.retrieve(document.id).status == "processed"
    assert [f.id for f in client.files.list(purpose="file-extract")][0] == document.id
    assert client.files.delete(document.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(document.id)


def test_a_document_is_uploaded_then_processed_or_an_error_when_it_is_not_what_its_name_says(client, emu):
    emu.state.parse_seconds = 0.2
    good = client.files.create(file=("paper.pdf", b"%PDF-1.4 tiny"), purpose="file-extract")
    bad = client.files.create(file=("fake.pdf", b"not a pdf"), purpose="file-extract")
    assert good.status == "uploaded"
    time.sleep(0.25)
    assert client.files.retrieve(good.id).status == "processed"
    broken = client.files.retrieve(bad.id)
    assert broken.status == "error" and "not a valid .pdf" in broken.status_details


@pytest.mark.parametrize("name, purpose, data, message", [
    ("a.jsonl", "fine-tune", b"x", "'purpose' must be one of batch, file-extract"),
    ("a.exe", "file-extract", b"x", "Unsupported file format '.exe'"),
    ("a.txt", "file-extract", b"", "The file is empty"),
])
def test_uploads_the_service_refuses_are_400s(client, name, purpose, data, message):
    with pytest.raises(openai.BadRequestError, match=message):
        client.files.create(file=(name, data), purpose=purpose)


def test_only_batch_result_files_can_be_downloaded(client):
    uploaded = _upload(client, [_line("1")])
    with pytest.raises(openai.BadRequestError, match="Only batch result files"):
        client.files.content(uploaded)


def test_a_batch_walks_its_states_and_answers_every_line_in_any_order(client, emu):
    # Each phase lasts long enough to be seen by a poll even on a loaded machine (0.1 s was missed under load).
    emu.state.batch_phase_seconds, emu.state.batch_lines_per_second = 0.4, 200
    lines = [_line(str(i), f"question {i}") for i in range(60)]
    created = client.batches.create(input_file_id=_upload(client, lines), endpoint="/v1/chat/completions",
                                    completion_window="24h", metadata={"ds_name": "test"})
    assert created.status == "validating" and created.id.startswith("batch_")
    assert created.request_counts.total == 0 and created.in_progress_at is None
    running = _until(client, created.id, ("in_progress",))
    assert running.status == "in_progress" and running.request_counts.total == 60
    seen = {running.status}
    while (batch := client.batches.retrieve(created.id)).status not in ("completed", "failed"):
        seen.add(batch.status)
        time.sleep(0.02)
    assert {"in_progress", "finalizing"} <= seen
    assert batch.status == "completed" and batch.error_file_id is None and batch.completed_at
    assert batch.request_counts.completed == 60 and batch.output_file_id.startswith("file-batch_output-")
    results = [json.loads(line) for line in client.files.content(batch.output_file_id).text.splitlines()]
    assert sorted(int(r["custom_id"]) for r in results) == list(range(60))
    assert [r["custom_id"] for r in results] != [str(i) for i in range(60)]  # not in input order
    first = results[0]
    assert first["response"]["status_code"] == 200 and first["error"] is None
    assert first["id"] == first["response"]["request_id"] == first["response"]["body"]["id"].removeprefix("chatcmpl-")
    assert f"question {first['custom_id']}" in first["response"]["body"]["choices"][0]["message"]["content"]
    assert "system_fingerprint" not in first["response"]["body"]


def test_a_failed_line_goes_to_the_error_file(client, emu):
    emu.inject("500")
    batch = client.batches.create(input_file_id=_upload(client, [_line("a"), _line("b")]),
                                  endpoint="/v1/chat/completions", completion_window="24h")
    batch = _until(client, batch.id, ("completed",))
    assert (batch.request_counts.completed, batch.request_counts.failed) == (1, 1)
    errors = [json.loads(line) for line in client.files.content(batch.error_file_id).text.splitlines()]
    assert errors[0]["custom_id"] == "a" and errors[0]["response"]["status_code"] == 500
    assert errors[0]["error"]["code"] == "internal_error"


@pytest.mark.parametrize("lines, code", [
    ([_line("1", url="/v1/chat/completion")], "url_not_found"),
    ([_line("1", url="/v1/embeddings")], "url_mismatch"),
    ([_line("1"), _line("1")], "duplicate_custom_id"),
    ([_line("1"), _line("2", model="qwen-max")], "mixed_models"),
    ([{**_line("1"), "method": "GET"}], "invalid_method"),
    ([_line("1", model="gpt-4o")], "model_not_found"),
])
def test_validation_fails_the_batch_with_the_lines_errors(client, lines, code):
    batch = client.batches.create(input_file_id=_upload(client, lines), endpoint="/v1/chat/completions",
                                  completion_window="24h")
    batch = _until(client, batch.id, ("failed", "completed"))
    assert batch.status == "failed" and batch.failed_at and batch.output_file_id is None
    assert code in [e.code for e in batch.errors.data]


def test_more_lines_than_the_limit_fail_validation(client):
    data = b"".join(json.dumps(_line(str(i))).encode() + b"\n" for i in range(50_001))
    uploaded = client.files.create(file=("big.jsonl", data), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                  completion_window="24h")
    batch = _until(client, batch.id, ("failed", "in_progress", "completed"))
    assert batch.status == "failed" and batch.errors.data[0].code == "too_many_lines"


def test_create_rejects_bad_windows_endpoints_and_files(client):
    uploaded = _upload(client, [_line("1")])
    for window, endpoint in (("12h", "/v1/chat/completions"), ("24h", "/v1/images"), ("337h", "/v1/embeddings")):
        with pytest.raises(openai.BadRequestError):
            client.batches.create(input_file_id=uploaded, endpoint=endpoint, completion_window=window)
    with pytest.raises(openai.NotFoundError):
        client.batches.create(input_file_id="file-batch-missing", endpoint="/v1/chat/completions",
                              completion_window="24h")
    assert client.batches.create(input_file_id=uploaded, endpoint="/v1/chat/completions",
                                 completion_window="14d").completion_window == "14d"


def test_cancel_keeps_finished_lines_and_lists_the_rest_as_errors(client, emu):
    emu.state.batch_lines_per_second = 40
    batch = client.batches.create(input_file_id=_upload(client, [_line(str(i)) for i in range(200)]),
                                  endpoint="/v1/chat/completions", completion_window="24h")
    _until(client, batch.id, ("in_progress",))
    time.sleep(0.2)
    assert client.batches.cancel(batch.id).status == "cancelling"
    cancelled = _until(client, batch.id, ("cancelled",))
    counts = cancelled.request_counts
    assert cancelled.status == "cancelled" and 0 < counts.completed < 200 and counts.completed + counts.failed == 200
    errors = client.files.content(cancelled.error_file_id).text.splitlines()
    assert len(errors) == counts.failed and json.loads(errors[0])["error"]["code"] == "batch_cancelled"
    with pytest.raises(openai.BadRequestError):
        client.batches.cancel(batch.id)


def test_a_batch_past_its_window_expires(client, emu):
    emu.state.batch_lines_per_second, emu.state.batch_clock = 10, 3600 * 24 * 10
    batch = client.batches.create(input_file_id=_upload(client, [_line(str(i)) for i in range(50)]),
                                  endpoint="/v1/chat/completions", completion_window="24h")
    time.sleep(0.2)
    expired = _until(client, batch.id, ("expired", "completed"))
    assert expired.status == "expired" and expired.expired_at and expired.request_counts.failed > 0


def test_the_test_endpoint_answers_with_the_documented_text(client):
    batch = client.batches.create(
        input_file_id=_upload(client, [_line("1", model="batch-test-model", url="/v1/chat/ds-test")]),
        endpoint="/v1/chat/ds-test", completion_window="24h")
    done = _until(client, batch.id, ("completed", "failed"))
    result = json.loads(client.files.content(done.output_file_id).text)
    assert result["response"]["body"]["choices"][0]["message"]["content"] == "This is a test result."


def test_listing_batches_filters_by_status_and_pages_and_an_empty_page_is_null(client, emu):
    emu.state.batches.clear()
    empty = client.batches.list(extra_query={"status": "completed"})
    assert empty.data == [] or empty.data is None
    ids = [client.batches.create(input_file_id=_upload(client, [_line("1")]), endpoint="/v1/chat/completions",
                                 completion_window="24h").id for _ in range(3)]
    page = client.batches.list(limit=2)
    assert [b.id for b in page.data] == ids[::-1][:2] and page.has_more
    assert [b.id for b in client.batches.list(limit=2, after=ids[1]).data] == [ids[0]]


def test_json_mode_answers_follow_a_schema_in_the_messages(client):
    schema = {"type": "object", "properties": {"label": {"enum": ["pos", "neg"]}, "score": {"type": "integer"}}}
    answer = client.chat.completions.create(model="qwen-plus", response_format={"type": "json_object"}, messages=[
        {"role": "system", "content": "Answer in JSON matching " + json.dumps(schema)},
        {"role": "user", "content": "Great film!"}])
    value = json.loads(answer.choices[0].message.content)
    assert value["label"] in ("pos", "neg") and value["score"] == 1


def test_files_and_batches_need_a_key(emu):
    with openai.OpenAI(api_key="not-a-key", base_url=emu.url + "/compatible-mode/v1", max_retries=0) as keyless:
        with pytest.raises(openai.AuthenticationError):
            keyless.files.list()
        with pytest.raises(openai.AuthenticationError):
            keyless.batches.retrieve("batch_x")
