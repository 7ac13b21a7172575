"""Rows through the Batch API: JSONL files uploaded, batches created (split at the service's per-file limits),
polled with progress, and the results joined back by custom_id (errors included). The job is stored, so a kernel
restart loses nothing: batch_result() picks it up by id."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from ..backends import completions as service
from ..core.errors import QwenError
from ..core.settings import Settings
from ..state.store import Store
from .progress import Progress
from .runner import Row, entry, failure

MAX_LINES = 50_000  # the Batch API's limits per input file
MAX_FILE_BYTES = 500 * 1024 * 1024
MAX_LINE_BYTES = 6 * 1024 * 1024
TERMINAL = ("completed", "failed", "expired", "cancelled")
SAVE_EVERY = 1000  # answers of a result file stored in one transaction
POLL_FIRST, POLL_MOST = 0.2, 60.0  # seconds between polls: quick at first, then once a minute as the docs advise


def parts(rows: Iterable[Row], max_lines: int = MAX_LINES,
          max_bytes: int = MAX_FILE_BYTES) -> Iterator[tuple[bytes, list[str]]]:
    """The rows as JSONL files within the per-file limits, one file at a time (only that file is held): its
    content and its rows' keys. custom_id is a row's content key; the body is the one a live request sends."""
    content, keys = bytearray(), []
    for row in rows:
        line = json.dumps({"custom_id": row.key, "method": "POST", "url": service.BATCH_URL, "body": row.body},
                          ensure_ascii=False).encode()
        if len(line) > MAX_LINE_BYTES:
            raise QwenError("A row's request is larger than 6 MB, the Batch API's limit per line; shorten it or "
                            "run without batch=True.", code="InvalidInput", hint="")
        if keys and (len(content) + len(line) + 1 > max_bytes or len(keys) >= max_lines):
            yield bytes(content), keys
            content, keys = bytearray(), []
        content += line + b"\n"
        keys.append(row.key)
    if keys:
        yield bytes(content), keys


def submit(settings: Settings, store: Store, rows: Iterable[Row], spec: dict[str, Any],
           max_lines: int = MAX_LINES) -> str:
    """Upload the rows as one or more batch files, each as soon as it is written, create a batch for each, and
    store the job; its id."""
    job_id = "job-" + uuid.uuid4().hex[:12]
    batches: list[dict[str, Any]] = []
    for number, (data, keys) in enumerate(parts(rows, max_lines)):
        uploaded = service.upload(settings, f"qwen-jupyter-{job_id}-{number + 1}.jsonl", data, "batch")
        created = service.create_batch(settings, uploaded["id"], {"ds_name": f"qwen-jupyter {job_id}"})
        batches.append({"id": created["id"], "status": created["status"], "input_file_id": uploaded["id"],
                        "keys": keys, "counts": created.get("request_counts") or {}})
        # Stored as each starts, so none is forgotten; the spec (the rows) is written with the first only.
        store.save_batch_job(job_id, "running", batches, None if number else spec)
    return job_id


def job(store: Store, job_id: str) -> dict[str, Any]:
    """A stored job by its id or one of its batch ids, or a clear error."""
    found = store.batch_jobs(job_id)
    if not found:
        raise QwenError(f"No batch job {job_id!r} in this machine's store; %qwen batches lists them.",
                        code="InvalidInput", hint="")
    return found[0]


def refresh(settings: Settings, store: Store, stored: dict[str, Any]) -> dict[str, Any]:
    """Ask the service how each unfinished batch of a job is doing, and store what it says."""
    for batch in stored["batches"]:
        if batch["status"] not in TERMINAL:
            current = service.retrieve_batch(settings, batch["id"])
            batch.update(status=current["status"], counts=current.get("request_counts") or {},
                         output_file_id=current.get("output_file_id"), error_file_id=current.get("error_file_id"),
                         errors=current.get("errors"))
    store.save_batch_job(stored["id"], stored["status"], stored["batches"])
    return stored


def wait(settings: Settings, store: Store, stored: dict[str, Any], show: bool = True) -> dict[str, Any]:
    """Poll until every batch of the job has ended, with a progress bar; an interrupt leaves the job running."""
    total = sum(len(b["keys"]) for b in stored["batches"])
    progress = Progress(total, f"batch {stored['id']}", show)
    delay, failed = POLL_FIRST, 0
    try:
        while True:
            refresh(settings, store, stored)
            counts = [b.get("counts") or {} for b in stored["batches"]]
            states = sorted({b["status"] for b in stored["batches"]})
            failed = sum(c.get("failed") or 0 for c in counts)
            progress.show(sum(c.get("completed") or 0 for c in counts), failed, None, note=", ".join(states))
            if all(b["status"] in TERMINAL for b in stored["batches"]):
                return stored
            time.sleep(delay)
            delay = min(POLL_MOST, delay * 1.5)
    except KeyboardInterrupt:
        print(f"Stopped waiting; the batch job {stored['id']} keeps running on the service. "
              f"qwen_jupyter.batch_result({stored['id']!r}) picks it up; %qwen batches cancel {stored['id']} stops it.")
        raise
    finally:
        progress.close(failed)


def _line_error(line: dict[str, Any]) -> str:
    error = line.get("error") or {}
    response = line.get("response") or {}
    if not error and isinstance(response.get("body"), dict):
        error = response["body"].get("error") or {}
    code = error.get("code") or error.get("error_code") or response.get("status_code") or "error"
    message = error.get("message") or error.get("error_message") or "the line failed"
    return f"{code}: {message}"


def collect(settings: Settings, store: Store, stored: dict[str, Any]) -> None:
    """Join every ended batch's results back by custom_id into the answer store (lines in any order), then delete
    the uploaded input files (the account holds at most 10,000 files)."""
    for batch in stored["batches"]:  # a few answers at a time: one file's lines are never all held as dicts
        entries: list[dict[str, Any]] = []
        answered: set[str] = set()
        if batch["status"] == "failed":
            errors = ((batch.get("errors") or {}).get("data") or [{}])
            reason = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors[:3] if e)
            entries = [failure(key, f"The batch {batch['id']} failed ({reason or 'no reason given'}).")
                       for key in batch["keys"]]
        for file_id in (batch.get("output_file_id"), batch.get("error_file_id")):
            lines, emulated = service.output_lines(settings, file_id)
            for line in lines:
                key = line.get("custom_id")
                response = line.get("response") or {}
                if response.get("status_code") == 200 and not line.get("error"):
                    entries.append(entry(key, response.get("body") or {}, emulated))
                else:
                    entries.append(failure(key, _line_error(line), request_id=response.get("request_id")))
                answered.add(key)
                if len(entries) >= SAVE_EVERY:
                    store.save_answers(entries)
                    entries = []
        if batch["status"] != "failed":
            entries += [failure(key, f"No result for this row (the batch ended {batch['status']}).")
                        for key in batch["keys"] if key not in answered]
        store.save_answers(entries)
    store.save_batch_job(stored["id"], "collected", stored["batches"])
    stored["status"] = "collected"
    for batch in stored["batches"]:  # the answers are stored: the input files need not count against the quota
        with contextlib.suppress(QwenError):
            service.delete_file(settings, batch["input_file_id"])


def cancel(settings: Settings, store: Store, job_id: str) -> dict[str, Any]:
    """Cancel every unfinished batch of a job; rows finished before are kept when its results are collected."""
    stored = job(store, job_id)
    for batch in stored["batches"]:
        if batch["status"] not in TERMINAL:
            batch["status"] = service.cancel_batch(settings, batch["id"])["status"]
    store.save_batch_job(stored["id"], stored["status"], stored["batches"])
    return stored
