"""Image generation: the asynchronous task API (submit, poll) and generated PNGs served from the emulator."""

from __future__ import annotations

import hashlib
import struct
import time
import uuid
import zlib
from typing import Any

from aiohttp import web

from .errors import FAULT_ERRORS
from .http import authorized, response_headers
from .state import STATE

SIZE = 96


def png_bytes(seed: str, size: int = SIZE) -> bytes:
    """A small deterministic gradient PNG whose colours depend on the prompt."""
    digest = hashlib.sha256(seed.encode()).digest()
    r0, g0, b0, r1, g1, b1 = digest[:6]
    rows = []
    for y in range(size):
        row = bytearray([0])  # filter type 0
        for x in range(size):
            t = (x + y) / (2 * (size - 1))
            row += bytes((int(r0 + (r1 - r0) * t) & 255, int(g0 + (g1 - g0) * t) & 255, int(b0 + (b1 - b0) * t) & 255))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows))) + \
        chunk(b"IEND", b"")


def _image_url(host: str, seed: str) -> str:
    return f"{host}/emulator/images/{hashlib.sha256(seed.encode()).hexdigest()[:16]}.png"


def _prompt_text(conversation: Any) -> str:
    return conversation.turns[-1].text


def sync_body(conversation: Any, context: Any, parameters: dict[str, Any]) -> dict[str, Any]:
    """The synchronous multimodal-generation answer of an image model (qwen-image)."""
    count = int(parameters.get("n", 1))
    prompt = _prompt_text(conversation)
    content = [{"image": _image_url(context.base_url, f"{prompt}#{i}")} for i in range(count)]
    return {
        "output": {"choices": [{"finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
                   "task_metric": {"TOTAL": count, "SUCCEEDED": count, "FAILED": 0}},
        "usage": {"width": SIZE, "height": SIZE, "image_count": count},
        "request_id": context.request_id,
    }


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S.000")


async def submit(request: web.Request) -> web.Response:
    """POST image-synthesis: needs X-DashScope-Async; answers with a PENDING task."""
    state = request.app[STATE]
    body = await request.json()
    request_id = str(uuid.uuid4())
    headers = response_headers(request_id)
    if not authorized(request):
        error = FAULT_ERRORS["401"]
        return web.json_response({"code": error.code, "message": error.message, "request_id": request_id},
                                 status=401, headers=headers)
    if request.headers.get("X-DashScope-Async") != "enable":
        return web.json_response({"code": "AccessDenied", "message": "current user api does not support synchronous "
                                  "calls", "request_id": request_id}, status=403, headers=headers)
    prompt = (body.get("input") or {}).get("prompt", "")
    count = int((body.get("parameters") or {}).get("n", 1))
    task_id = str(uuid.uuid4())
    host = f"{request.scheme}://{request.host}"
    state.tasks[task_id] = {"prompt": prompt, "submit_time": _now(),
                            "urls": [_image_url(host, f"{prompt}#{i}") for i in range(count)]}
    return web.json_response({"request_id": request_id, "output": {"task_id": task_id, "task_status": "PENDING"}},
                             headers=headers)


async def task(request: web.Request) -> web.Response:
    """GET tasks/{id}: the emulator finishes tasks at once, so the first poll succeeds."""
    state = request.app[STATE]
    task_id = request.match_info["task_id"]
    request_id = str(uuid.uuid4())
    headers = response_headers(request_id)
    found = state.tasks.get(task_id)
    if found is None:
        output = {"task_id": task_id, "task_status": "UNKNOWN"}
        return web.json_response({"request_id": request_id, "output": output}, headers=headers)
    output = {
        "task_id": task_id, "task_status": "SUCCEEDED", "submit_time": found["submit_time"],
        "scheduled_time": found["submit_time"], "end_time": _now(),
        "results": [{"orig_prompt": found["prompt"], "actual_prompt": found["prompt"], "url": url}
                    for url in found["urls"]],
        "task_metrics": {"TOTAL": len(found["urls"]), "FAILED": 0, "SUCCEEDED": len(found["urls"])},
    }
    return web.json_response({"request_id": request_id, "output": output,
                              "usage": {"image_count": len(found["urls"])}}, headers=headers)


async def png(request: web.Request) -> web.Response:
    """The generated image behind a result URL."""
    name = request.match_info["name"]
    return web.Response(body=png_bytes(name), content_type="image/png")
