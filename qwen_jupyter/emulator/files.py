"""The OpenAI-compatible Files API: upload (multipart), list, retrieve, delete and download, for the purposes
`batch` (Batch API input) and `file-extract` (qwen-long documents), with the documented ids, limits and states.

Files live in the emulator's memory (State.files): id -> {"object": the public file object, "data": bytes,
"since": when it was uploaded}.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

from aiohttp import web

from .errors import ApiError, compat_error_body, invalid
from .http import authorized, response_headers
from .state import STATE, State

BASE = "/compatible-mode/v1"
PURPOSES = {"batch": ("file-batch-", 500 * 1024 * 1024), "file-extract": ("file-fe-", 150 * 1024 * 1024)}
OUTPUT_PREFIX = "file-batch_output-"  # batch results and errors; the only ids whose content can be downloaded
EXTRACT_FORMATS = {".txt", ".docx", ".pdf", ".xlsx", ".epub", ".mobi", ".md", ".csv", ".json", ".bmp", ".png",
                   ".jpg", ".jpeg", ".gif"}
MAX_FILES = 10_000


def error(err: ApiError) -> web.Response:
    """A compatible-mode error response."""
    request_id = str(uuid.uuid4())
    return web.json_response(compat_error_body(err, SimpleNamespace(request_id=request_id)), status=err.status,
                             headers=response_headers(request_id))


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, "NotFound", f"The {what} {ident} does not exist.", "not_found")


def keyed(handler: Callable[[web.Request], Awaitable[web.Response]]) -> Callable[[web.Request], Any]:
    """The handler behind the key check: without a key the service answers 401."""

    async def run(request: web.Request) -> web.Response:
        if not authorized(request):
            return error(ApiError(401, "InvalidApiKey", "Invalid API-key provided.", "invalid_api_key"))
        return await handler(request)

    return run


def add(state: State, purpose: str, filename: str, data: bytes, prefix: str | None = None) -> dict[str, Any]:
    """Store a file and return its public object (batch results are added here too)."""
    ident = (prefix or PURPOSES[purpose][0]) + uuid.uuid4().hex[:24]
    obj = {"id": ident, "object": "file", "bytes": len(data), "filename": filename, "purpose": purpose,
           "status": "processed", "created_at": int(time.time())}
    state.files[ident] = {"object": obj, "data": data, "since": time.time()}
    return obj


_SIGNATURES = {".pdf": b"%PDF", ".docx": b"PK", ".xlsx": b"PK", ".epub": b"PK", ".png": b"\x89PNG",
               ".gif": b"GIF8", ".jpg": b"\xff\xd8", ".jpeg": b"\xff\xd8", ".bmp": b"BM"}


def current(state: State, stored: dict[str, Any]) -> dict[str, Any]:
    """The file object now: a document is "uploaded" while it is parsed, then "processed", or "error" (with
    status_details) when its bytes are not the format its name says."""
    obj = stored["object"]
    if obj["purpose"] != "file-extract" or obj["status"] != "uploaded":
        return obj
    if time.time() - stored["since"] >= state.parse_seconds:
        signature = _SIGNATURES.get(os.path.splitext(obj["filename"])[1].lower())
        if signature and not stored["data"].startswith(signature):
            obj.update(status="error", status_details="The file could not be parsed: it is not a valid "
                       f"{os.path.splitext(obj['filename'])[1]} file.")
        else:
            obj["status"] = "processed"
    return obj


def respond(obj: Any) -> web.Response:
    """A JSON answer with the emulator's headers."""
    return web.json_response(obj, headers=response_headers(str(uuid.uuid4())))


async def upload(request: web.Request) -> web.Response:
    """POST /files: multipart `file` and `purpose`."""
    state: State = request.app[STATE]
    try:
        form = await request.post()
    except ValueError:
        return error(invalid("The upload must be multipart/form-data with 'file' and 'purpose'."))
    purpose, upload = form.get("purpose"), form.get("file")
    if purpose not in PURPOSES:
        return error(ApiError(400, "InvalidParameter", f"'purpose' must be one of {', '.join(PURPOSES)}.",
                              "invalid_request_error"))
    if upload is None or not hasattr(upload, "file"):
        return error(invalid("'file' is required."))
    data = upload.file.read()
    name = upload.filename or "upload"
    limit = PURPOSES[str(purpose)][1]
    if not data:
        return error(invalid("The file is empty."))
    if len(data) > limit:
        return error(invalid(f"The file is larger than {limit // (1024 * 1024)} MB, the limit for {purpose} files."))
    if purpose == "file-extract" and os.path.splitext(name)[1].lower() not in EXTRACT_FORMATS:
        return error(invalid(f"Unsupported file format {os.path.splitext(name)[1] or name!r} for file-extract."))
    if len(state.files) >= MAX_FILES:
        return error(invalid(f"The account stores {MAX_FILES:,} files already; delete some first."))
    obj = add(state, str(purpose), name, data)
    if purpose == "file-extract":
        obj["status"] = "uploaded"
    return respond(current(state, state.files[obj["id"]]))


async def listing(request: web.Request) -> web.Response:
    """GET /files: newest first, filtered by purpose, paged by `after` and `limit`."""
    state: State = request.app[STATE]
    found = [current(state, f) for f in reversed(state.files.values())]
    if request.query.get("purpose"):
        found = [o for o in found if o["purpose"] == request.query["purpose"]]
    after = request.query.get("after")
    if after:
        ids = [o["id"] for o in found]
        found = found[ids.index(after) + 1:] if after in ids else []
    limit = int(request.query.get("limit") or 10_000)
    return respond({"object": "list", "data": found[:limit], "has_more": len(found) > limit})


async def retrieve(request: web.Request) -> web.Response:
    """GET /files/{id}."""
    stored = request.app[STATE].files.get(request.match_info["file_id"])
    if stored is None:
        return error(not_found("file", request.match_info["file_id"]))
    return respond(current(request.app[STATE], stored))


async def delete(request: web.Request) -> web.Response:
    """DELETE /files/{id}."""
    ident = request.match_info["file_id"]
    if request.app[STATE].files.pop(ident, None) is None:
        return error(not_found("file", ident))
    return respond({"id": ident, "object": "file", "deleted": True})


async def content(request: web.Request) -> web.Response:
    """GET /files/{id}/content: batch output and error files only, as the service allows."""
    ident = request.match_info["file_id"]
    stored = request.app[STATE].files.get(ident)
    if stored is None:
        return error(not_found("file", ident))
    if not ident.startswith(OUTPUT_PREFIX):
        return error(invalid(f"Only batch result files ({OUTPUT_PREFIX}…) can be downloaded."))
    return web.Response(body=stored["data"], headers=response_headers(str(uuid.uuid4())))


def add_routes(app: web.Application) -> None:
    """The Files API's routes."""
    app.router.add_post(f"{BASE}/files", keyed(upload))
    app.router.add_get(f"{BASE}/files", keyed(listing))
    app.router.add_get(BASE + "/files/{file_id}", keyed(retrieve))
    app.router.add_delete(BASE + "/files/{file_id}", keyed(delete))
    app.router.add_get(BASE + "/files/{file_id}/content", keyed(content))
