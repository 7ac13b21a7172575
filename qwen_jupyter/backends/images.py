"""Images made and edited, on the native API whatever `api` says -> events.

Task models (wanx…, wan2.x-t2i…, the image2image editors) go through the asynchronous task API: submit, poll with
a progress event about every second, cancel the task on the service when the person interrupts or the time limit
passes. qwen-image… answers on the multimodal-generation endpoint in one response. Either way each image is
downloaded at once (the service's URLs expire after a day) and checked: only the image's own host (a redirect
elsewhere is refused), no key sent, an image content type, a bounded size, decoded by PIL within a pixel limit and
re-encoded as PNG, so what is shown and kept is a PNG we wrote.
"""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urljoin, urlsplit

import dashscope
import requests
from dashscope.api_entities.dashscope_response import DashScopeAPIResponse, ImageSynthesisResponse
from dashscope.client.base_api import BaseAsyncApi

from ..core.errors import QwenError
from ..core.events import Chunk, Event, Finished, Image, Started, TaskProgress, Usage
from ..core.models import model_info
from ..core.request import Request
from ..core.settings import Settings
from . import EMULATOR_HEADER
from .native import TRANSPORT_ERRORS, Folder, NoRedirects, compact, error_from_response, transport_error
from .native import wire_message as native_message

MAX_BYTES = 50 * 1024 * 1024  # a 4K PNG is ~30 MB at worst
MAX_PIXELS = 40_000_000  # 4096*4096 is 16.8 M; PIL's own bomb limit is 89 M
FORMATS = ("PNG", "JPEG", "WEBP")
POLLS = (0.25, 0.5, 1.0, 2.0, 4.0)  # seconds between polls, then 5 s (the SDK's wait() goes 1, 2, 4, 5)
DONE = ("SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN")


def image_events(request: Request, settings: Settings) -> Iterator[Event]:
    """Events for an image model: the task API or the multimodal-generation endpoint, images downloaded."""
    if model_info(request.model).image_task:
        yield from _task(request, settings)
    else:
        yield from _generation(request, settings)


async def aimage_events(request: Request, settings: Settings) -> AsyncIterator[Event]:
    """The same events for achat(): the requests run in a worker thread; when the caller stops listening (or is
    cancelled) the worker stops at its next event (within about a second) and a waiting task is cancelled."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def work() -> None:
        events = image_events(request, settings)
        try:
            for event in events:
                loop.call_soon_threadsafe(queue.put_nowait, event)
                if stop.is_set():
                    break
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            events.close()  # an unfinished task is cancelled on the service
            loop.call_soon_threadsafe(queue.put_nowait, StopAsyncIteration())

    threading.Thread(target=work, daemon=True, name="qwen-image-task").start()
    try:
        while not isinstance(item := await queue.get(), StopAsyncIteration):
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _options(request: Request) -> dict[str, Any]:
    """The image options (size, n, seed, negative prompt, prompt extension, anything else asked for)."""
    options = dict(request.extra)  # the size is already W*H (request.check_options)
    if request.seed is not None:
        options["seed"] = request.seed
    return options


def _inputs(request: Request) -> tuple[str, list[str]]:
    """The prompt and the input images of the last user turn (image models take no conversation)."""
    user = request.messages[-1]
    return user.text, [m.url for m in user.media if m.kind == "image"]


def _task(request: Request, settings: Settings) -> Iterator[Event]:
    info = model_info(request.model)
    prompt, pictures = _inputs(request)
    options = _options(request)
    if info.image_edit:  # with its picture (request.check_options refused an edit without one)
        if "imageedit" in request.model:  # wanx2.1-imageedit: one base image and a function
            options.setdefault("function", "description_edit")
            options["base_image_url"] = pictures[0]
        else:
            options["images"] = pictures
    where: dict[str, Any] = {"api_key": settings.key(), "base_address": settings.native_url}
    if settings.workspace:
        where["workspace"] = settings.workspace
    if settings.headers:
        where["headers"] = dict(settings.headers)
    try:
        submitted = dashscope.ImageSynthesis.async_call(model=request.model, prompt=prompt, **where, **options)
    except TRANSPORT_ERRORS as exc:
        raise transport_error(exc, settings) from exc
    if submitted.status_code != 200:
        raise error_from_response(submitted, settings)
    task_id = submitted.output["task_id"]
    headers = {k.lower(): v for k, v in (submitted.headers or {}).items()}
    yield Started(request.model, submitted.request_id, EMULATOR_HEADER in headers)
    yield Chunk(compact(submitted, headers=True), _build)
    start, settled = time.monotonic(), False
    try:
        status = submitted.output.get("task_status", "PENDING")
        yield TaskProgress(task_id, status, 0.0)
        response = yield from _wait(task_id, status, start, where, settings)
        settled = True
    except QwenError as exc:  # the wait failed or ran out of time: the service should not go on making images
        settled = True
        cancelled = cancel(task_id, settings)
        if exc.code != "TaskTimeout":
            raise
        outcome = "it was cancelled" if cancelled else "the service would not cancel it (it was already running)"
        raise QwenError(f"The image task did not finish within {settings.timeout:g} s; {outcome}.",
                        code="TaskTimeout", request_id=submitted.request_id or None,
                        hint="Raise the timeout (QwenMagics.timeout or timeout=) to wait longer.") from None
    finally:
        if not settled:  # interrupted: cancel it on the service too
            cancel(task_id, settings)
    yield Chunk(compact(response, headers=False), _build)
    output = response.output or {}
    status = output.get("task_status")
    if status != "SUCCEEDED":
        message = output.get("message") or {"CANCELED": "it was cancelled", "UNKNOWN": "the task id is unknown or "
                                            "expired"}.get(status, "no reason given")
        raise QwenError(f"The image task ended {status}: {message}.", code=output.get("code") or "TaskFailed",
                        request_id=response.request_id or None, hint="")
    failed = []
    for item in output.get("results") or ():
        if item.get("url"):
            yield Image(item["url"], download(item["url"], settings))
        else:  # a partial failure: the other images are kept
            failed.append(str(item.get("message") or item.get("code") or "no reason given"))
    if failed:
        raise QwenError(f"{len(failed)} of the images failed: {failed[0]}.", code="TaskFailed", hint="")
    yield Finished("stop")


def _wait(task_id: str, status: str, start: float, where: dict[str, Any],
          settings: Settings) -> Iterator[Event]:
    """Poll until the task ends, with a progress event about every second; the time limit is settings.timeout.
    Returns the last task response (a generator's return value)."""
    polls = 0
    while True:
        pause = POLLS[polls] if polls < len(POLLS) else 5.0
        next_poll = time.monotonic() + pause
        while (now := time.monotonic()) < next_poll:
            if now - start > settings.timeout:
                raise QwenError("The image task ran out of time.", code="TaskTimeout")
            time.sleep(min(1.0, next_poll - now))
            yield TaskProgress(task_id, status, time.monotonic() - start)
        polls += 1
        try:
            # ImageSynthesis.fetch() drops base_address (it would poll Beijing): the base class's passes it on.
            response = ImageSynthesisResponse.from_api_response(BaseAsyncApi.fetch(task_id, **where))
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc, settings) from exc
        if response.status_code != 200:
            error = error_from_response(response, settings)
            if error.retryable:  # a throttled or failed poll: the task goes on, so ask again later
                continue
            raise error
        status = (response.output or {}).get("task_status", status)
        if status in DONE:
            return response
        yield TaskProgress(task_id, status, time.monotonic() - start)


def cancel(task_id: str, settings: Settings) -> bool:
    """Ask the service to cancel a task (it can while the task is PENDING); True when it did."""
    headers = {"Authorization": f"Bearer {settings.key()}"}
    if settings.workspace:
        headers["X-DashScope-WorkSpace"] = settings.workspace
    try:
        response = requests.post(f"{settings.native_url}/tasks/{task_id}/cancel", headers=headers, timeout=10,
                                 allow_redirects=False)
    except requests.RequestException:
        return False
    return response.status_code == 200


def _build(data: bytes) -> Any:
    return ImageSynthesisResponse.from_api_response(DashScopeAPIResponse(**json.loads(data)))


def _generation(request: Request, settings: Settings) -> Iterator[Event]:
    """qwen-image… in one response on the multimodal-generation endpoint (the last turn only, not streamed)."""
    kwargs: dict[str, Any] = {
        "model": request.model, "messages": [native_message(request.messages[-1], True)],
        "api_key": settings.key(), "base_address": settings.native_url, "request_timeout": settings.timeout,
        **_options(request),
    }
    if settings.workspace:
        kwargs["workspace"] = settings.workspace
    if settings.headers:
        kwargs["headers"] = dict(settings.headers)
    folder = Folder(replace(request, stream=False), settings)
    session = NoRedirects()
    try:
        response = dashscope.MultiModalConversation.call(session=session, **kwargs)
        for event in folder.events(response):
            if isinstance(event, Image):
                yield Image(event.url, download(event.url, settings))
            elif not isinstance(event, Usage):  # its usage counts pixels and images, not tokens
                yield event
    except TRANSPORT_ERRORS as exc:
        raise transport_error(exc, settings) from exc
    finally:
        session.close()


def download(url: str, settings: Settings) -> bytes:
    """The image at a result URL as checked PNG bytes (same host only, no key, bounded, decoded by PIL)."""
    parts = urlsplit(url)
    origin = urlsplit(settings.host)
    same_service = (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc)
    if parts.scheme != "https" and not same_service:
        raise QwenError(f"The service gave an image address that is not https ({_short(url)}); it was not fetched.",
                        code="BadImage", hint="")
    with requests.Session() as session:
        for _ in range(4):
            try:
                response = session.get(url, stream=True, timeout=settings.timeout, allow_redirects=False)
            except requests.RequestException as exc:
                raise QwenError(f"The image at {_short(url)} could not be downloaded ({type(exc).__name__}).",
                                code="ImageDownload", hint="") from None
            with response:
                if response.is_redirect:
                    target = urljoin(url, response.headers.get("location", ""))
                    if urlsplit(target).netloc != parts.netloc or urlsplit(target).scheme != parts.scheme:
                        raise QwenError(f"The image at {_short(url)} redirects to another host; it was not followed.",
                                        code="ImageDownload", hint="")
                    url = target
                    continue
                return to_png(_body(response, url))
    raise QwenError(f"The image at {_short(url)} redirects too often.", code="ImageDownload", hint="")


def _body(response: requests.Response, url: str) -> bytes:
    if response.status_code != 200:
        raise QwenError(f"The image at {_short(url)} could not be downloaded (HTTP {response.status_code}).",
                        code="ImageDownload", hint="")
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if not kind.startswith("image/"):
        raise QwenError(f"The address {_short(url)} did not give an image ({kind or 'no content type'}).",
                        code="BadImage", hint="")
    if int(response.headers.get("content-length") or 0) > MAX_BYTES:
        raise QwenError(f"The image at {_short(url)} is larger than {MAX_BYTES // 2**20} MB.", code="BadImage",
                        hint="")
    data = bytearray()
    for piece in response.iter_content(65536):
        data += piece
        if len(data) > MAX_BYTES:
            raise QwenError(f"The image at {_short(url)} is larger than {MAX_BYTES // 2**20} MB.", code="BadImage",
                            hint="")
    return bytes(data)


def to_png(data: bytes) -> bytes:
    """Image bytes from an untrusted source, decoded within the pixel limit and written again as PNG."""
    from PIL import Image as PILImage

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data), formats=FORMATS) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise QwenError(f"The image is {image.width}×{image.height}, more pixels than allowed.",
                                    code="BadImage", hint="")
                image.load()
                if image.mode not in ("RGB", "RGBA", "L", "LA"):
                    image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
                buffer = io.BytesIO()
                image.save(buffer, format="PNG")
    except QwenError:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever PIL says about bytes it cannot read
        raise QwenError(f"The service sent an image that could not be read ({type(exc).__name__}).",
                        code="BadImage", hint="") from None
    return buffer.getvalue()


def _short(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"[:120]  # never the signed query


class ImagesBackend:
    """Image models through the native API (a task, or the multimodal-generation endpoint), whatever `api` says."""

    def stream(self, request: Request, settings: Settings) -> Iterator[Event]:
        """Events for a request, synchronously."""
        return image_events(request, settings)

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[Event]:
        """Events for a request, asynchronously."""
        async for event in aimage_events(request, settings):
            yield event


BACKEND = ImagesBackend()
