"""The emulator's aiohttp application: authentication, fault handling, paced streaming, and the routes."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from aiohttp import web

from . import batches, cache, choices, compat, files, images, native, responses, specialised
from .cassette import Cassette, Interaction
from .errors import FAULT_ERRORS, ApiError, invalid
from .faults import HEADER, Fault, parse, split_model
from .http import VERSION, authorized, response_headers
from .replies import Conversation, Reply, echo, plan
from .state import STATE, State

REPLAY_HEADER = "X-Qwen-Replay"  # the number of the cassette recording that answered


@dataclass
class Context:
    """One request as the wire writers see it."""

    request_id: str
    model: str
    created: int
    flavour: str  # "compat" | "responses" | "native"
    base_url: str


@dataclass
class Handler:
    """An API: parse a body into a Conversation, then write replies and errors in its own format."""

    flavour: str
    parse: Callable[..., tuple[Conversation, bool, dict[str, Any]]]
    body: Callable[[Conversation, Reply, Context, dict[str, Any]], dict[str, Any]]
    frames: Callable[[Conversation, Reply, Context, int | None, dict[str, Any]], Iterator[tuple[bytes, bool]]]
    error_body: Callable[[ApiError, Context], dict[str, Any]]
    stream_error: Callable[[ApiError, Context], bytes]
    malformed: bytes
    content_type: str


HANDLERS = {
    "compat": Handler("compat", compat.parse, compat.body, compat.frames, compat.error_body, compat.stream_error,
                      b"data: {\"choices\": [{\"delta\": \n\n", "text/event-stream; charset=utf-8"),
    "responses": Handler("responses", responses.parse, responses.body, responses.frames, responses.error_body,
                         responses.stream_error, b"event: response.output_text.delta\ndata: {oops\n\n",
                         "text/event-stream; charset=utf-8"),
    "native": Handler("native", native.parse, native.body, native.frames, native.error_body, native.stream_error,
                      b"id:0\nevent:result\n:HTTP_STATUS/200\ndata:{broken\n\n",
                      "text/event-stream;charset=UTF-8"),
}


def _headers(context: Context) -> dict[str, str]:
    return response_headers(context.request_id)


def _error_response(handler: Handler, error: ApiError, context: Context) -> web.Response:
    headers = _headers(context)
    if error.retry_after is not None:
        headers["Retry-After"] = f"{error.retry_after:g}"
    return web.json_response(handler.error_body(error, context), status=error.status, headers=headers)


def _record(state: State, request: web.Request, body: Any) -> None:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in ("authorization", "cookie")}
    state.received.append({"path": request.path, "method": request.method, "headers": headers, "body": body})


async def handle_generation(request: web.Request, flavour: str) -> web.StreamResponse:
    """Every text route: validate, pick faults, plan the reply, write it streamed or whole."""
    state: State = request.app[STATE]
    handler = HANDLERS[flavour]
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    _record(state, request, body)
    model, suffix = split_model(str((body or {}).get("model", "")))
    context = Context(str(uuid.uuid4()), model, int(time.time()), flavour, _host(request))
    specs = (suffix, request.headers.get(HEADER) or "", state.next_fault())
    try:
        fault = parse(suffix)
        for spec in specs[1:]:
            parse(spec, fault)
    except ValueError as exc:
        return _error_response(handler, invalid(str(exc)), context)
    if fault.every and state.count("|".join(specs)) % fault.every:
        fault.status = None  # sporadic: only every Nth request carrying this spec gets the error
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if not authorized(request) or fault.status == "401":
        return _error_response(handler, FAULT_ERRORS["401"], context)
    if fault.redirect:
        return web.Response(status=fault.redirect, headers={**_headers(context), "Location": str(request.url)})
    if fault.status:
        error = FAULT_ERRORS[fault.status]
        if fault.echo:  # the error's message is the prompt: hostile text in an error box
            error = replace(error, message=_prompt(handler, body, request, model) or error.message)
        if fault.echo_code:  # a server that puts what it was sent (a key, say) into the error's code
            prompt = _prompt(handler, body, request, model) or error.code
            error = replace(error, code=prompt, compat_code=prompt)
        if fault.status == "429":
            error = replace(error, retry_after=fault.retry_after if fault.retry_after is not None else 1)
        return _error_response(handler, error, context)
    if body is None:
        return _error_response(handler, invalid("The request body is not valid JSON."), context)
    missed = False
    if state.cassette is not None:
        recorded = state.cassette.find(request.method, request.path, body)
        if recorded is not None:
            return await replay(request, recorded, state.pace, context)
        if not state.lenient:
            return _error_response(handler, cassette_miss(state.cassette, request, body), context)
        missed = True
    try:
        conversation, stream, extras = handler.parse(body, dict(request.headers), model, request.path)
        specialised.attach_files(conversation, state)
    except ApiError as error:
        return _error_response(handler, error, context)
    reply = plan(conversation, long=fault.long, tool_loop=fault.tool_loop)
    specialised.shape(conversation, reply)
    choices.answer(conversation, reply, fault.unsure, body.get("seed"))
    if fault.no_logprobs:
        conversation.options.pop("top_logprobs", None)
    if flavour == "compat" and isinstance(body.get("messages"), list):
        conversation.options["cache"] = cache.details(state.caches, model, body["messages"], reply.input_tokens)
    if fault.bad_args:
        reply.tool_calls = [(call_id, name, arguments[: len(arguments) // 2]) for call_id, name, arguments in
                            reply.tool_calls]
    if fault.echo:
        echo(reply, conversation)
    if fault.echo_args:  # the arguments JSON exactly as the prompt wrote it (repeated keys, hidden characters)
        reply.tool_calls = [(call_id, name, conversation.turns[-1].text) for call_id, name, _ in reply.tool_calls]
    if missed:
        reply.text = "(Not in the cassette: generated by the emulator.) " + reply.text
    if not stream:
        return web.json_response(handler.body(conversation, reply, context, extras), headers=_headers(context))
    return await _stream(request, handler, conversation, reply, context, fault, extras)


def _prompt(handler: Handler, body: Any, request: web.Request, model: str) -> str | None:
    try:
        return handler.parse(body, dict(request.headers), model, request.path)[0].turns[-1].text
    except (ApiError, AttributeError, IndexError, KeyError, TypeError):
        return None


def cassette_miss(cassette: Cassette, request: web.Request, body: Any) -> ApiError:
    """Strict replay found no recording: name the closest recorded request and what differs."""
    closest, diff = cassette.closest(request.method, request.path, body)
    if closest is None:
        detail = "the cassette is empty"
    else:
        shown = "; ".join(diff[:4]) + (f"; and {len(diff) - 4} more" if len(diff) > 4 else "")
        detail = f"closest is recording #{closest.number} ({closest.path}), which differs in {shown}"
    return ApiError(404, "CassetteMiss", f"No recorded answer for this request: {detail}. Record it with "
                    "%qwen record, or replay leniently.", "cassette_miss")


async def replay(request: web.Request, recorded: Interaction, pace: float, context: Context) -> web.StreamResponse:
    """Serve a recorded response: its status, content type and chunks, at `pace` times the recorded timing."""
    headers = {**recorded.headers, **_headers(context), REPLAY_HEADER: str(recorded.number)}
    headers["x-request-id"] = recorded.headers.get("x-request-id", context.request_id)
    response = web.StreamResponse(status=recorded.status, headers=headers)
    await response.prepare(request)
    start = time.perf_counter()
    try:
        for elapsed, data in recorded.chunks:
            delay = start + elapsed * pace - time.perf_counter()
            if pace and delay > 0:
                await asyncio.sleep(delay)
            await response.write(data.encode("utf-8"))
        await response.write_eof()
    except (ConnectionResetError, ConnectionError):
        request.app[STATE].disconnected.append(context.request_id)
    return response


def _host(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def _stream(request: web.Request, handler: Handler, conversation: Conversation, reply: Reply,
                  context: Context, fault: Fault, extras: dict[str, Any]) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": handler.content_type, "Cache-Control": "no-cache",
                                           **_headers(context)})
    await response.prepare(request)
    try:
        await _write_frames(request, response, handler, conversation, reply, context, fault, extras)
    except (ConnectionResetError, ConnectionError):
        request.app[STATE].disconnected.append(context.request_id)  # the client went away mid-answer
    return response


async def _write_frames(request: web.Request, response: web.StreamResponse, handler: Handler,
                        conversation: Conversation, reply: Reply, context: Context, fault: Fault,
                        extras: dict[str, Any]) -> None:
    sent = 0
    start = time.perf_counter()
    for frame, is_content in handler.frames(conversation, reply, context, fault.chunk, extras):
        if is_content:
            if fault.drop is not None and sent >= fault.drop:
                request.transport.close()  # no terminating chunk: the client sees a broken stream
                return
            if fault.stall is not None and sent >= fault.stall:
                await _stall(request, fault.stall_seconds)
                return
            if fault.malformed is not None and sent == fault.malformed:
                await response.write(handler.malformed)
            if fault.error_at is not None and sent >= fault.error_at:
                await response.write(handler.stream_error(FAULT_ERRORS["500"], context))
                await response.write_eof()
                return
            sent += 1
            if fault.slow:
                delay = start + sent * fault.slow - time.perf_counter()  # paced by schedule, so no drift
                if delay > 0:
                    await asyncio.sleep(delay)
        await response.write(frame)
    await response.write_eof()


async def _stall(request: web.Request, seconds: float) -> None:
    """Send nothing for `seconds`, or until the client gives up, then close the connection."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and request.transport and not request.transport.is_closing():
        await asyncio.sleep(0.05)
    if request.transport:
        request.transport.close()


def _route(flavour: str) -> Callable[[web.Request], Any]:
    async def route(request: web.Request) -> web.StreamResponse:
        return await handle_generation(request, flavour)

    return route


def make_app(state: State | None = None) -> web.Application:
    """The aiohttp application serving every path the toolkit uses."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[STATE] = state or State()
    app.router.add_post("/compatible-mode/v1/chat/completions", _route("compat"))
    app.router.add_post("/compatible-mode/v1/responses", _route("responses"))
    app.router.add_post("/api/v2/apps/protocols/compatible-mode/v1/responses", _route("responses"))
    app.router.add_post("/api/v1/services/aigc/text-generation/generation", _route("native"))
    app.router.add_post("/api/v1/services/aigc/multimodal-generation/generation", _route("native"))
    app.router.add_post("/api/v1/services/aigc/text2image/image-synthesis", images.submit)
    app.router.add_post("/api/v1/services/aigc/image2image/image-synthesis", images.submit)
    app.router.add_get("/api/v1/tasks/{task_id}", images.task)
    app.router.add_post("/api/v1/tasks/{task_id}/cancel", images.cancel)
    app.router.add_get("/emulator/images/{name}", images.png)
    app.router.add_get("/emulator/health", _health)
    files.add_routes(app)
    batches.add_routes(app)
    return app


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "emulator": VERSION})
