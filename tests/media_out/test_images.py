"""Images made and edited, against the emulator: every API reaches the image endpoints; tasks that succeed, fail,
time out and are cancelled; options on the wire; downloads that refuse what is not an image from the same host."""

from __future__ import annotations

import io
import re
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

import qwen_jupyter
from qwen_jupyter.backends.images import download, to_png
from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.core.events import Image as ImageEvent
from qwen_jupyter.core.events import TaskProgress
from qwen_jupyter.core.settings import Settings

from ..conftest import APIS, KEY

TASK_PATH = "/api/v1/services/aigc/text2image/image-synthesis"


def _paths(emu, method: str | None = None) -> list[str]:
    return [r["path"] for r in emu.received if method is None or r["method"] == method]


@pytest.mark.parametrize("api", APIS)
def test_a_task_model_makes_pil_images_whatever_the_api(api, connect, emu):
    result = qwen_jupyter.chat("a red fox", model="wanx2.1-t2i-turbo", **connect(api))
    assert result.error is None, result.error
    assert result.api == "dashscope" and _paths(emu, "POST") == [TASK_PATH]
    assert [image.size for image in result.images] == [(96, 96)]
    assert isinstance(result.images[0], Image.Image)
    assert result.image_urls[0].startswith(emu.url + "/emulator/images/")
    states = [e.status for e in result.events if isinstance(e, TaskProgress)]
    assert states[0] == "PENDING" and "RUNNING" in states
    assert result.emulated and result.request_id and len(result.raw) == 2  # the submit and the finished task


@pytest.mark.parametrize("api", APIS)
def test_qwen_image_answers_on_the_multimodal_endpoint_whatever_the_api(api, connect, emu):
    result = qwen_jupyter.chat("a red fox", model="qwen-image-plus", size="1328x1328", n=1, seed=3,
                               negative_prompt="text", prompt_extend=False, **connect(api))
    assert result.error is None, result.error
    sent = emu.received[-1]
    assert sent["path"].endswith("/multimodal-generation/generation") and "X-DashScope-SSE" not in sent["headers"]
    assert sent["body"]["input"]["messages"] == [{"role": "user", "content": [{"text": "a red fox"}]}]
    assert sent["body"]["parameters"] == {"size": "1328*1328", "n": 1, "seed": 3, "negative_prompt": "text",
                                          "prompt_extend": False}
    assert len(result.images) == 1 and result.images[0].format == "PNG"
    assert result.usage.input_tokens is None  # the usage counts pixels, not tokens: the footer shows none


def test_options_reach_the_task_api(connect, emu):
    result = qwen_jupyter.chat("a lighthouse", model="wan2.5-t2i-preview", size="1024x768", n=2, seed=42,
                               negative_prompt="blurry", prompt_extend=False, watermark=False, **connect())
    assert result.error is None, result.error
    body = emu.received[0]["body"]
    assert body["input"] == {"prompt": "a lighthouse", "negative_prompt": "blurry"}
    assert body["parameters"] == {"size": "1024*768", "n": 2, "seed": 42, "prompt_extend": False,
                                  "watermark": False}
    assert emu.received[0]["headers"]["X-DashScope-Async"] == "enable"
    assert [image.size for image in result.images] == [(96, 72), (96, 72)]  # the asked aspect ratio


def test_a_failed_task_is_an_error_that_says_why(connect):
    result = qwen_jupyter.chat("a red fox", model="wanx-v1~task-fail", **connect())
    assert result.error.code == "InternalError.Algo"
    assert "ended FAILED" in result.error.message and "could not make this image" in result.error.message
    assert result.images == () and result.request_id


def test_a_task_past_the_time_limit_is_cancelled_on_the_service(connect, emu, reliability):
    result = qwen_jupyter.chat("a red fox", model="wanx-v1~task-stuck", **connect(timeout=1))
    reliability.add("Faults", "an image task past its time limit (cancelled on the service)", tried=1,
                    failed=int(result.error is None or result.error.code != "TaskTimeout"))
    assert result.error.code == "TaskTimeout" and result.error.message.endswith("within 1 s; it was cancelled.")
    task_id = next(e.task_id for e in result.events if isinstance(e, TaskProgress))
    assert f"/api/v1/tasks/{task_id}/cancel" in _paths(emu, "POST")
    assert emu.state.tasks[task_id]["status"] == "CANCELED"


def test_an_interrupt_cancels_the_task_and_keeps_what_came(connect, emu):
    result = qwen_jupyter.chat("a red fox", model="wanx-v1~task-stuck", **connect())
    for event in result:
        if isinstance(event, TaskProgress) and event.seconds > 0:
            result.stop()  # what an interrupt does (the cell view calls it)
            break
    assert result.interrupted and result.request_id
    task_id = next(e.task_id for e in result.events if isinstance(e, TaskProgress))
    assert emu.state.tasks[task_id]["status"] == "CANCELED"
    assert _paths(emu, "POST")[-1] == f"/api/v1/tasks/{task_id}/cancel"


def test_progress_is_reported_about_every_second(connect, emu):
    emu.inject("task-stuck")
    result = qwen_jupyter.chat("a red fox", model="wanx-v1", **connect(timeout=2.5))
    seconds = [e.seconds for e in result.events if isinstance(e, TaskProgress)]
    assert result.error.code == "TaskTimeout"
    assert all(b - a <= 1.1 for a, b in zip(seconds, seconds[1:], strict=False)) and seconds[-1] > 2


def test_editing_a_picture_with_a_task_model(connect, emu):
    picture = Image.new("RGB", (40, 20), (250, 10, 10))
    result = qwen_jupyter.chat("make it blue", model="wanx2.1-imageedit", image=picture, **connect("openai"))
    assert result.error is None, result.error
    sent = emu.received[0]
    assert sent["path"] == "/api/v1/services/aigc/image2image/image-synthesis"
    assert sent["body"]["input"]["function"] == "description_edit"
    assert sent["body"]["input"]["base_image_url"].startswith("data:image/png;base64,")
    edited = result.images[0]
    assert edited.size == (40, 20) and edited.getpixel((5, 5))[2] > 200  # the emulator inverts: red -> cyan


def test_editing_with_qwen_image_edit_sends_the_picture(connect, emu):
    picture = Image.new("RGB", (16, 16), "green")
    result = qwen_jupyter.chat("add a hat", model="qwen-image-edit", image=picture, **connect("responses"))
    assert result.error is None, result.error
    content = emu.received[-1]["body"]["input"]["messages"][0]["content"]
    assert content[0]["image"].startswith("data:image/png;base64,") and content[1] == {"text": "add a hat"}
    assert len(result.images) == 1


def test_editing_without_a_picture_and_text_models_with_one_are_refused(connect, emu):
    for model in ("wanx2.1-imageedit", "qwen-image-edit"):  # refused before anything is sent, as other bad input
        with pytest.raises(QwenError, match="edits a picture: give it with -i PATH"):
            qwen_jupyter.chat("make it blue", model=model, **connect())
    with pytest.raises(QwenError, match="qwen-image-edit"):
        qwen_jupyter.chat("make it blue", model="wanx-v1", image=Image.new("RGB", (16, 16)), **connect())
    assert emu.received == []  # nothing was submitted


def test_save_images_into_a_folder_a_pattern_or_a_file(connect, tmp_path):
    result = qwen_jupyter.chat("two foxes", model="wanx-v1", n=2, **connect())
    folder = result.save_images(tmp_path / "out")
    assert [p.parent for p in folder] == [tmp_path / "out"] * 2 and folder[0].name.startswith("wanx-v1-")
    pattern = result.save_images(str(tmp_path / "fox-{n}.png"))
    assert [p.name for p in pattern] == ["fox-1.png", "fox-2.png"]
    named = result.save_images(tmp_path / "fox.png")
    assert [p.name for p in named] == ["fox-1.png", "fox-2.png"]
    assert Image.open(named[1]).format == "PNG"
    assert result.message().text == "[2 generated image(s)]"  # what a follow-up in the chat sees


# -- downloads of untrusted URLs -----------------------------------------------------------------------------


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + \
        chunk(b"IEND", b"")


class _Host(BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []
    routes = {
        "/ok.png": (200, {"Content-Type": "image/png"}, None),
        "/page": (200, {"Content-Type": "text/html"}, b"<script>alert(1)</script>"),
        "/huge.png": (200, {"Content-Type": "image/png", "Content-Length": str(2**30)}, b""),
        "/bomb.png": (200, {"Content-Type": "image/png"}, _png(7000, 7000)),
        "/bigger.png": (200, {"Content-Type": "image/png"}, _png(20000, 20000)),
        "/elsewhere.png": (302, {"Location": "https://attacker.example/x.png"}, b""),
        "/here.png": (302, {"Location": "/ok.png"}, b""),
    }

    def do_GET(self):  # noqa: N802 - http.server's name
        _Host.seen.append(dict(self.headers))
        status, headers, body = self.routes.get(self.path, (404, {}, b""))
        if body is None:
            buffer = io.BytesIO()
            Image.new("RGB", (8, 8), "red").save(buffer, format="JPEG")
            body = buffer.getvalue()
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def host():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Host)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize(("path", "says"), [
    ("/page", "did not give an image (text/html)"),
    ("/huge.png", "larger than 50 MB"),
    ("/bomb.png", "7000×7000, more pixels than allowed"),
    ("/bigger.png", "could not be read (DecompressionBombError)"),
    ("/elsewhere.png", "redirects to another host"),
    ("/missing.png", "HTTP 404"),
])
def test_downloads_refuse_what_is_not_a_bounded_image_from_the_same_host(host, path, says, reliability):
    with pytest.raises(QwenError, match=re.escape(says)) as refused:
        download(host + path, Settings(base_url=host, api_key=KEY))
    reliability.add("Bad inputs", "generated-image downloads (not an image, too big, a bomb, another host, 404)",
                    tried=1, failed=int(says not in str(refused.value)))


def test_downloads_follow_same_host_redirects_re_encode_as_png_and_never_send_the_key(host):
    _Host.seen.clear()
    png = download(host + "/here.png", Settings(base_url=host, api_key=KEY))
    assert png.startswith(b"\x89PNG") and Image.open(io.BytesIO(png)).size == (8, 8)  # a JPEG, re-encoded
    assert len(_Host.seen) == 2 and not any("Authorization" in h or KEY in str(h) for h in _Host.seen)


def test_plain_http_images_are_fetched_only_from_the_service_host(host):
    with pytest.raises(QwenError, match="not https"):
        download(host + "/ok.png", Settings(base_url="https://dashscope.aliyuncs.com", api_key=KEY))


def test_bytes_that_are_not_an_image_are_refused():
    with pytest.raises(QwenError, match="could not be read"):
        to_png(b"GIF89a not really")  # and GIF is not a format the service sends


def test_an_image_event_without_a_download_shows_nothing(emu):
    result = qwen_jupyter.QwenResult([ImageEvent("https://example.com/a.png")], model="wanx-v1")
    assert result.image_urls == ("https://example.com/a.png",) and result.images == ()


@pytest.mark.parametrize(("model", "path"), [
    ("wanx2.1-t2i-turbo", "/text2image/image-synthesis"), ("wan2.5-t2i-preview", "/text2image/image-synthesis"),
    ("wan2.5-i2i-preview", "/image2image/image-synthesis"), ("wan2.6-t2i", "/multimodal-generation/generation"),
    ("qwen-image-max", "/multimodal-generation/generation"),
])
def test_each_image_model_goes_to_its_documented_endpoint(model, path, connect, emu):
    picture = Image.new("RGB", (16, 16)) if "i2i" in model else None
    result = qwen_jupyter.chat("a kite", model=model, image=picture, **connect())
    assert result.error is None, result.error
    assert emu.received[0]["path"].endswith(path) and len(result.images) == 1
    if "i2i" in model:
        assert emu.received[0]["body"]["input"]["images"][0].startswith("data:image/png;base64,")


def test_a_throttled_poll_is_asked_again_and_a_refused_one_ends_the_task(connect, emu):
    result = qwen_jupyter.chat("a red fox", model="wanx-v1", **connect())
    for event in result:
        if isinstance(event, TaskProgress) and event.seconds == 0:
            emu.inject("429", times=2)  # the next two polls are throttled
    assert result.error is None and len(result.images) == 1
    polls = [r for r in emu.received if r["method"] == "GET"]
    assert len(polls) == 4  # two throttled, then RUNNING and SUCCEEDED
    refused = qwen_jupyter.chat("a red fox", model="wanx-v1", **connect())
    for event in refused.watch():
        if isinstance(event, TaskProgress) and event.seconds == 0:
            emu.inject("403")
    assert refused.error.status == 403 and refused.request_id
    assert emu.received[-1]["path"].endswith("/cancel")  # the task is not left running


def test_the_configured_headers_go_with_the_task(settings, emu):
    from qwen_jupyter.core.request import build_request
    from qwen_jupyter.engine.asking import ask

    routed = settings("dashscope", headers=(("X-Qwen-Emulator-Fault", "task-fail"),))
    result = ask(build_request("wanx-v1", "a fox"), routed)
    assert result.error.code == "InternalError.Algo"
    assert all(r["headers"].get("X-Qwen-Emulator-Fault") == "task-fail" for r in emu.received)


def test_achat_makes_images_and_a_cancelled_achat_cancels_the_task(connect, emu):
    import asyncio

    result = asyncio.run(qwen_jupyter.achat("a red fox", model="wanx-v1", n=2, **connect("responses")))
    assert result.error is None and len(result.images) == 2 and result.api == "dashscope"

    async def give_up():
        waiting = asyncio.create_task(qwen_jupyter.achat("a red fox", model="wanx-v1~task-stuck", **connect()))
        await asyncio.sleep(1.5)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await asyncio.sleep(1.2)  # the worker notices at its next progress event and cancels

    asyncio.run(give_up())
    assert emu.received[-1]["path"].endswith("/cancel")
    assert list(emu.state.tasks.values())[-1]["status"] == "CANCELED"
