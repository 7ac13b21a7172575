"""Image generation: the asynchronous task API (submit, poll, cancel) and generated PNGs served from the emulator.

A task is PENDING when submitted, RUNNING at its first poll and SUCCEEDED at the next (FAILED with the `task-fail`
fault; PENDING for ever with `task-stuck`, as in a full queue). Cancel works while a task is PENDING, as on the
service; later it answers 400 UnsupportedOperation. Unknown ids answer 200 with status UNKNOWN. Editing models
(image2image) get their input picture back, shrunk and recoloured, so an edit is visible.
"""

from __future__ import annotations

import base64
import hashlib
import io
import struct
import time
import uuid
import zlib
from typing import Any

from aiohttp import web

from .errors import FAULT_ERRORS, ApiError, invalid
from .faults import HEADER, Fault, parse, split_model
from .http import authorized, response_headers
from .state import STATE, State

SIZE = 96  # the longer side of an emulated image: small, so notebooks stay small


def png_bytes(seed: str, size: int = SIZE, height: int | None = None) -> bytes:
    """A small deterministic gradient PNG whose colours depend on the prompt."""
    digest = hashlib.sha256(seed.encode()).digest()
    r0, g0, b0, r1, g1, b1 = digest[:6]
    width, height = size, height or size
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type 0
        for x in range(width):
            t = (x + y) / max(1, width + height - 2)
            row += bytes((int(r0 + (r1 - r0) * t) & 255, int(g0 + (g1 - g0) * t) & 255, int(b0 + (b1 - b0) * t) & 255))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + \
        chunk(b"IEND", b"")


def _dimensions(size: Any) -> tuple[int, int]:
    """The emulated image's width and height: the asked aspect ratio, the longer side SIZE."""
    try:
        width, height = (int(v) for v in str(size).split("*"))
    except (TypeError, ValueError):
        return SIZE, SIZE
    scale = SIZE / max(width, height, 1)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _image_url(host: str, seed: str, size: Any = None) -> str:
    width, height = _dimensions(size)
    return f"{host}/emulator/images/{hashlib.sha256(seed.encode()).hexdigest()[:16]}-{width}x{height}.png"


def _edited(state: State, host: str, source: Any, seed: str) -> str:
    """The URL of an input picture, shrunk and recoloured (the emulated edit); a gradient if it cannot be read."""
    from PIL import Image, ImageOps

    name = hashlib.sha256(f"edit:{seed}".encode()).hexdigest()[:16] + "-edit.png"
    try:
        data = base64.b64decode(str(source).split(",", 1)[1]) if str(source).startswith("data:") else b""
        with Image.open(io.BytesIO(data), formats=("PNG", "JPEG", "WEBP")) as picture:
            if picture.width * picture.height > 40_000_000:
                raise ValueError("too large")
            picture.thumbnail((SIZE, SIZE))
            edited = ImageOps.posterize(ImageOps.invert(picture.convert("RGB")), 3)
        buffer = io.BytesIO()
        edited.save(buffer, format="PNG")
        state.images[name] = buffer.getvalue()
    except (ValueError, OSError, IndexError):
        state.images[name] = png_bytes(f"edit:{seed}")
    return f"{host}/emulator/images/{name}"


def sync_body(conversation: Any, context: Any, parameters: dict[str, Any]) -> dict[str, Any]:
    """The synchronous multimodal-generation answer of an image model (qwen-image, qwen-image-edit)."""
    count = int(parameters.get("n", 1))
    prompt = conversation.turns[-1].text
    seed = f"{prompt}|{parameters.get('seed', '')}|{parameters.get('negative_prompt', '')}"
    content = [{"image": _image_url(context.base_url, f"{seed}#{i}", parameters.get("size"))} for i in range(count)]
    width, height = _dimensions(parameters.get("size"))
    return {
        "output": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
                   "task_metric": {"TOTAL": count, "SUCCEEDED": count, "FAILED": 0}},
        "usage": {"width": width, "height": height, "image_count": count},
        "request_id": context.request_id,
    }


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S.000")


def _error(error: ApiError, request_id: str) -> web.Response:
    return web.json_response({"code": error.code, "message": error.message, "request_id": request_id},
                             status=error.status, headers=response_headers(request_id))


def _record(state: State, request: web.Request, body: Any) -> None:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("authorization", "cookie")}
    state.received.append({"path": request.path, "method": request.method, "headers": headers, "body": body})


def _fault(request: web.Request, state: State, suffix: str) -> Fault:
    fault = parse(suffix)
    parse(request.headers.get(HEADER), fault)
    parse(state.next_fault(), fault)
    return fault


def _inputs(model: str, body: dict[str, Any], edit: bool) -> tuple[str, Any]:
    """The prompt and (for an edit) the input picture, checked as the service checks them."""
    data = body.get("input") or {}
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise invalid("prompt is required!")
    if not edit:
        return prompt, None
    if "imageedit" in model:
        if not data.get("function"):
            raise invalid("input.function is required.")
        source = data.get("base_image_url")
    else:
        source = (data.get("images") or [None])[0]
    if not source:
        raise invalid("The input image is required (input.base_image_url or input.images).")
    return prompt, source


async def submit(request: web.Request) -> web.Response:
    """POST text2image or image2image image-synthesis: needs X-DashScope-Async; answers with a PENDING task."""
    state: State = request.app[STATE]
    request_id = str(uuid.uuid4())
    try:
        body = await request.json()
    except ValueError:
        return _error(invalid("The request body is not valid JSON."), request_id)
    _record(state, request, body)
    if not authorized(request):
        return _error(FAULT_ERRORS["401"], request_id)
    model, suffix = split_model(str(body.get("model", "")))
    try:
        fault = _fault(request, state, suffix)
    except ValueError as exc:
        return _error(invalid(str(exc)), request_id)
    if fault.status:
        return _error(FAULT_ERRORS[fault.status], request_id)
    if request.headers.get("X-DashScope-Async") != "enable":
        return _error(ApiError(403, "AccessDenied", "current user api does not support synchronous calls"),
                      request_id)
    edit = "image2image" in request.path
    try:
        prompt, source = _inputs(model, body, edit)
    except ApiError as error:
        return _error(error, request_id)
    parameters = body.get("parameters") or {}
    count = int(parameters.get("n", 1))
    task_id = str(uuid.uuid4())
    host = f"{request.scheme}://{request.host}"
    seed = f"{prompt}|{parameters.get('seed', '')}|{(body.get('input') or {}).get('negative_prompt', '')}"
    urls = [_edited(state, host, source, f"{seed}#{i}") if edit else _image_url(host, f"{seed}#{i}",
                                                                                  parameters.get("size"))
            for i in range(count)]
    state.tasks[task_id] = {"prompt": prompt, "submit_time": _now(), "status": "PENDING", "urls": urls,
                            "fail": fault.task_fail, "stuck": fault.task_stuck}
    return web.json_response({"request_id": request_id, "output": {"task_id": task_id, "task_status": "PENDING"}},
                             headers=response_headers(request_id))


def _advance(found: dict[str, Any]) -> None:
    """One poll's worth of progress: PENDING -> RUNNING -> SUCCEEDED (or FAILED); stuck tasks stay PENDING."""
    if found["status"] == "PENDING" and not found["stuck"]:
        found["status"] = "RUNNING"
    elif found["status"] == "RUNNING":
        found["status"] = "FAILED" if found["fail"] else "SUCCEEDED"
        found["end_time"] = _now()


async def task(request: web.Request) -> web.Response:
    """GET tasks/{id}: the task's state, advanced by one step per poll."""
    state: State = request.app[STATE]
    task_id = request.match_info["task_id"]
    request_id = str(uuid.uuid4())
    _record(state, request, None)
    if not authorized(request):
        return _error(FAULT_ERRORS["401"], request_id)
    try:
        fault = _fault(request, state, "")  # a poll can be throttled or fail too (header or emu.inject)
    except ValueError as exc:
        return _error(invalid(str(exc)), request_id)
    if fault.status:
        return _error(FAULT_ERRORS[fault.status], request_id)
    found = state.tasks.get(task_id)
    if found is None:
        output = {"task_id": task_id, "task_status": "UNKNOWN"}
        return web.json_response({"request_id": request_id, "output": output}, headers=response_headers(request_id))
    _advance(found)
    status, total = found["status"], len(found["urls"])
    output: dict[str, Any] = {"task_id": task_id, "task_status": status, "submit_time": found["submit_time"]}
    if status != "PENDING":
        output["scheduled_time"] = found["submit_time"]
    if "end_time" in found:
        output["end_time"] = found["end_time"]
    body: dict[str, Any] = {"request_id": request_id, "output": output}
    if status == "SUCCEEDED":
        output["results"] = [{"orig_prompt": found["prompt"], "actual_prompt": found["prompt"], "url": url}
                             for url in found["urls"]]
        output["task_metrics"] = {"TOTAL": total, "FAILED": 0, "SUCCEEDED": total}
        body["usage"] = {"image_count": total}
    elif status == "FAILED":
        output.update(code="InternalError.Algo", message="Emulated task failure: the model could not make this "
                      "image.", task_metrics={"TOTAL": total, "FAILED": total, "SUCCEEDED": 0})
    else:
        output["task_metrics"] = {"TOTAL": total, "FAILED": 0, "SUCCEEDED": 0}
    return web.json_response(body, headers=response_headers(request_id))


async def cancel(request: web.Request) -> web.Response:
    """POST tasks/{id}/cancel: only a PENDING task can be cancelled (400 UnsupportedOperation otherwise)."""
    state: State = request.app[STATE]
    request_id = str(uuid.uuid4())
    _record(state, request, None)
    if not authorized(request):
        return _error(FAULT_ERRORS["401"], request_id)
    found = state.tasks.get(request.match_info["task_id"])
    if found is None or found["status"] != "PENDING":
        return _error(ApiError(400, "UnsupportedOperation", "Failed to cancel the task, please confirm if the task "
                               "is in PENDING status."), request_id)
    found["status"], found["end_time"] = "CANCELED", _now()
    return web.json_response({"request_id": request_id}, headers=response_headers(request_id))


async def png(request: web.Request) -> web.Response:
    """The generated image behind a result URL."""
    name = request.match_info["name"]
    state: State = request.app[STATE]
    if name in state.images:
        return web.Response(body=state.images[name], content_type="image/png")
    stem = name.removesuffix(".png")
    digest, _, size = stem.partition("-")
    try:
        width, height = (int(v) for v in size.split("x")) if size else (SIZE, SIZE)
    except ValueError:
        width, height = SIZE, SIZE
    return web.Response(body=png_bytes(digest, min(width, SIZE), min(height, SIZE)), content_type="image/png")
