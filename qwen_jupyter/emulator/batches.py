"""The OpenAI-compatible Batch API: create, retrieve, list and cancel, with the service's state machine
(validating -> in_progress -> finalizing -> completed; failed, expired, cancelling -> cancelled).

A batch moves on a clock (State.batch_* settings) whenever it is looked at. Validation checks every line as the
service does; lines in progress are answered by the same reply planner as live chat (queued faults apply per
line, so `emu.inject("500")` fails a line); results go to output and error files, in no particular order.
"""

from __future__ import annotations

import json
import random
import re
import time
import uuid
from types import SimpleNamespace
from typing import Any

from aiohttp import web

from . import choices, compat
from .errors import FAULT_ERRORS, ApiError, invalid
from .faults import parse as parse_fault
from .faults import split_model
from .files import BASE, OUTPUT_PREFIX, add, error, keyed, not_found, respond
from .replies import plan
from .rules import check_model
from .state import STATE, State

ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/chat/ds-test")
TERMINAL = ("completed", "failed", "expired", "cancelled")
MAX_LINES = 50_000
MAX_LINE_BYTES = 6 * 1024 * 1024
TEST_MODEL, TEST_ANSWER, TEST_MAX_LINES = "batch-test-model", "This is a test result.", 100
_WINDOW = re.compile(r"^(\d+)([hd])$")
_TIMES = ("created_at", "in_progress_at", "expires_at", "finalizing_at", "completed_at", "failed_at", "expired_at",
          "cancelling_at", "cancelled_at")


def _window_hours(value: Any) -> int | None:
    match = _WINDOW.match(str(value or ""))
    if not match:
        return None
    hours = int(match.group(1)) * (24 if match.group(2) == "d" else 1)
    return hours if 24 <= hours <= 336 else None


def public(batch: dict[str, Any]) -> dict[str, Any]:
    """The batch object as the service shows it (every timestamp key present, null until set)."""
    return {k: v for k, v in batch.items() if not k.startswith("_")}


async def create(request: web.Request) -> web.Response:
    """POST /batches."""
    state: State = request.app[STATE]
    try:
        body = await request.json()
    except ValueError:
        return error(invalid("The request body is not valid JSON."))
    stored = state.files.get(str(body.get("input_file_id")))
    if stored is None:
        return error(not_found("file", body.get("input_file_id")))
    if stored["object"]["purpose"] != "batch":
        return error(invalid("The input file's purpose must be 'batch'."))
    if body.get("endpoint") not in ENDPOINTS:
        return error(invalid(f"endpoint must be one of {', '.join(ENDPOINTS)}."))
    hours = _window_hours(body.get("completion_window"))
    if hours is None:
        return error(invalid("completion_window must be between 24h and 336h (e.g. '24h', '14d')."))
    now = int(time.time())
    batch: dict[str, Any] = {
        "id": f"batch_{uuid.uuid4()}", "object": "batch", "endpoint": body["endpoint"], "errors": None,
        "input_file_id": body["input_file_id"], "completion_window": body["completion_window"],
        "status": "validating", "output_file_id": None, "error_file_id": None, **dict.fromkeys(_TIMES),
        "request_counts": {"total": 0, "completed": 0, "failed": 0}, "metadata": body.get("metadata"),
        "_since": time.time(), "_window": hours * 3600, "_lines": [], "_results": [], "_errors": [],
    }
    batch["created_at"] = now
    state.batches[batch["id"]] = batch
    return respond(public(batch))


def _line_problems(batch: dict[str, Any], text: str,
                   seen: set[str]) -> tuple[list[tuple[str, str, str | None]], dict[str, Any] | None]:
    """What is wrong with one line (code, message, param), and the line when it can run."""
    if len(text.encode()) > MAX_LINE_BYTES:
        return [("line_too_large", "The line is larger than 6 MB.", None)], None
    try:
        item = json.loads(text)
    except ValueError:
        return [("invalid_json_line", "The line is not valid JSON.", None)], None
    if not isinstance(item, dict):
        return [("invalid_json_line", "The line is not a JSON object.", None)], None
    problems: list[tuple[str, str, str | None]] = []
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        problems.append(("missing_required_parameter", "custom_id is required.", "custom_id"))
    elif custom_id in seen:
        problems.append(("duplicate_custom_id", f"The custom_id {custom_id!r} is used more than once.", "custom_id"))
    seen.add(str(custom_id))
    if item.get("method") != "POST":
        problems.append(("invalid_method", "method must be POST.", "method"))
    url = item.get("url")
    if url not in ENDPOINTS:
        problems.append(("url_not_found", f"The provided url '{url}' is not supported by the Batch API.", "url"))
    elif url != batch["endpoint"]:
        problems.append(("url_mismatch", f"The line's url '{url}' differs from the batch's endpoint.", "url"))
    body = item.get("body")
    if not isinstance(body, dict) or not body.get("model"):
        problems.append(("missing_required_parameter", "body.model is required.", "body"))
    return problems, None if problems else item


def _validate(batch: dict[str, Any], data: bytes) -> list[dict[str, Any]]:
    """Every line checked as the service does; the errors (empty when the file is good)."""
    errors: list[dict[str, Any]] = []
    lines = data.decode("utf-8", errors="replace").splitlines()
    if not any(line.strip() for line in lines):
        return [{"code": "empty_file", "message": "The input file has no lines.", "param": None, "line": None}]
    if len(lines) > MAX_LINES:
        return [{"code": "too_many_lines", "message": f"The input file has {len(lines):,} lines; at most "
                 f"{MAX_LINES:,} are allowed.", "param": None, "line": None}]
    seen: set[str] = set()
    models: set[str] = set()
    for number, text in enumerate(lines, 1):
        problems, item = _line_problems(batch, text, seen)
        errors += [{"code": code, "message": message, "param": param, "line": number}
                   for code, message, param in problems]
        if item is not None:
            models.add(str(item["body"]["model"]))
            batch["_lines"].append(item)
    if len(models) > 1:
        errors.append({"code": "mixed_models", "message": "All lines of a batch must use one model.",
                       "param": "body.model", "line": None})
    elif models:
        model = models.pop()
        if batch["endpoint"] == "/v1/chat/ds-test":
            if model != TEST_MODEL or len(batch["_lines"]) > TEST_MAX_LINES:
                errors.append({"code": "invalid_test_batch", "message": f"The test endpoint takes {TEST_MODEL} "
                               f"and at most {TEST_MAX_LINES} lines.", "param": None, "line": None})
        else:
            try:
                check_model(model)
            except ApiError as exc:
                errors.append({"code": "model_not_found", "message": exc.message, "param": "body.model",
                               "line": None})
    return errors[:20]


def _answer(state: State, batch: dict[str, Any], item: dict[str, Any]) -> None:
    """Answer one line: a result line, or an error line (a queued fault, or a request the service refuses)."""
    request_id = str(uuid.uuid4())
    body = item["body"]
    context = SimpleNamespace(request_id=request_id, model=body["model"], created=int(time.time()))
    line: dict[str, Any] = {"id": request_id, "custom_id": item["custom_id"], "error": None}
    try:
        fault = parse_fault(state.next_fault())
        if fault.status:
            raise FAULT_ERRORS[fault.status]
        if batch["endpoint"] != "/v1/chat/completions":
            if batch["endpoint"] == "/v1/embeddings":
                raise invalid("The emulator does not compute embeddings.")
            answer = {"id": f"chatcmpl-{request_id}", "object": "chat.completion", "created": context.created,
                      "model": TEST_MODEL, "choices": [{"index": 0, "finish_reason": "stop", "message": {
                          "role": "assistant", "content": TEST_ANSWER}}],
                      "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}
        else:
            conversation, _, extras = compat.parse({**body, "stream": False}, {}, body["model"], batch["endpoint"])
            reply = plan(conversation)
            choices.answer(conversation, reply, parse_fault(split_model(body["model"])[1]).unsure, body.get("seed"))
            answer = compat.body(conversation, reply, context, extras)
            for slim in ("system_fingerprint",):  # batch bodies are slimmer than live ones
                answer.pop(slim, None)
            for choice in answer["choices"]:
                choice.pop("logprobs", None)
        line["response"] = {"status_code": 200, "request_id": request_id, "body": answer}
        batch["_results"].append(line)
    except (ApiError, ValueError) as exc:
        err = exc if isinstance(exc, ApiError) else invalid(str(exc))
        line["response"] = {"status_code": err.status, "request_id": request_id,
                            "body": compat.error_body(err, context)}
        line["error"] = {"code": err.compat_code or err.code, "message": err.message}
        batch["_errors"].append(line)


def _unrun(batch: dict[str, Any], code: str, message: str) -> None:
    done = len(batch["_results"]) + len(batch["_errors"])
    for item in batch["_lines"][done:]:
        batch["_errors"].append({"id": str(uuid.uuid4()), "custom_id": item["custom_id"], "response": None,
                                 "error": {"code": code, "message": message}})


def _files(state: State, batch: dict[str, Any]) -> None:
    """Write the output and error files (shuffled: results come in any order) and the final counts."""
    for kind, lines in (("output_file_id", batch["_results"]), ("error_file_id", batch["_errors"])):
        if lines:
            shuffled = random.sample(lines, len(lines))
            data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in shuffled).encode()
            batch[kind] = add(state, "batch_output", f"{batch['id']}_{kind[:-8]}.jsonl", data, OUTPUT_PREFIX)["id"]
    batch["request_counts"] = {"total": len(batch["_lines"]), "completed": len(batch["_results"]),
                               "failed": len(batch["_errors"])}


def _end(state: State, batch: dict[str, Any], status: str) -> None:
    now = int(time.time())
    batch["status"] = status
    batch[f"{status}_at"] = now
    if status == "completed":
        batch["finalizing_at"] = batch["finalizing_at"] or now
    if status == "cancelled":
        batch["cancelling_at"] = now
    if status != "failed":
        _files(state, batch)


def advance(state: State, batch: dict[str, Any]) -> None:
    """Move a batch along its state machine as far as the clock allows (each phase starts when the last ended,
    whether or not anyone looked in between)."""
    now = time.time()
    phase = state.batch_phase_seconds
    while batch["status"] not in TERMINAL:
        since, status = batch["_since"], batch["status"]
        if status == "cancelling":
            if now - since < phase:
                return
            _unrun(batch, "batch_cancelled", "The batch was cancelled before this line ran.")
            _end(state, batch, "cancelled")
        elif status == "validating":
            if now - since < phase:
                return
            errors = _validate(batch, state.files[batch["input_file_id"]]["data"])
            if errors:
                batch["errors"] = {"object": "list", "data": errors}
                batch["_lines"] = []
                _end(state, batch, "failed")
                return
            batch.update(status="in_progress", in_progress_at=int(since + phase), _since=since + phase)
            batch["request_counts"] = {"total": len(batch["_lines"]), "completed": 0, "failed": 0}
        elif status == "in_progress":
            if (now - batch["created_at"]) * state.batch_clock > batch["_window"]:
                _unrun(batch, "batch_expired", "The batch expired before this line ran.")
                _end(state, batch, "expired")
                return
            total = len(batch["_lines"])
            target = min(total, int((now - since) * state.batch_lines_per_second))
            for item in batch["_lines"][len(batch["_results"]) + len(batch["_errors"]):target]:
                _answer(state, batch, item)
            batch["request_counts"] = {"total": total, "completed": len(batch["_results"]),
                                       "failed": len(batch["_errors"])}
            if target < total:
                return
            ended = since + total / state.batch_lines_per_second
            batch.update(status="finalizing", finalizing_at=int(ended), _since=ended)
        elif status == "finalizing":
            if now - since < phase:
                return
            _end(state, batch, "completed")


def _found(request: web.Request) -> dict[str, Any] | None:
    batch = request.app[STATE].batches.get(request.match_info["batch_id"])
    if batch is not None:
        advance(request.app[STATE], batch)
    return batch


async def retrieve(request: web.Request) -> web.Response:
    """GET /batches/{id}."""
    batch = _found(request)
    return respond(public(batch)) if batch else error(not_found("batch", request.match_info["batch_id"]))


async def cancel(request: web.Request) -> web.Response:
    """POST /batches/{id}/cancel (the SDK sends no body): `cancelling` now, `cancelled` a moment later."""
    batch = _found(request)
    if batch is None:
        return error(not_found("batch", request.match_info["batch_id"]))
    if batch["status"] in TERMINAL or batch["status"] == "cancelling":
        return error(invalid(f"The batch is {batch['status']}; only a running batch can be cancelled."))
    batch.update(status="cancelling", _since=time.time())
    return respond(public(batch))


async def listing(request: web.Request) -> web.Response:
    """GET /batches: newest first; `status` (comma list), `after`, `limit`; an empty page has "data": null."""
    state: State = request.app[STATE]
    found = list(reversed(state.batches.values()))
    for batch in found:
        advance(state, batch)
    if request.query.get("status"):
        wanted = set(request.query["status"].split(","))
        found = [b for b in found if b["status"] in wanted]
    after = request.query.get("after")
    if after:
        ids = [b["id"] for b in found]
        found = found[ids.index(after) + 1:] if after in ids else []
    limit = max(1, min(100, int(request.query.get("limit") or 20)))
    page = [public(b) for b in found[:limit]]
    return respond({"object": "list", "data": page or None, "first_id": page[0]["id"] if page else None,
                  "last_id": page[-1]["id"] if page else None, "has_more": len(found) > limit})


def add_routes(app: web.Application) -> None:
    """The Batch API's routes."""
    app.router.add_post(f"{BASE}/batches", keyed(create))
    app.router.add_get(f"{BASE}/batches", keyed(listing))
    app.router.add_get(BASE + "/batches/{batch_id}", keyed(retrieve))
    app.router.add_post(BASE + "/batches/{batch_id}/cancel", keyed(cancel))
