"""Images and speech through a real kernel: the magic's options on the wire, a live progress line, pictures and
the player embedded in the cell's outputs (and still there in a saved notebook), an interrupt that cancels the
task on the service."""

from __future__ import annotations

import base64
import io
import threading
import wave

import pytest
from PIL import Image

pytestmark = pytest.mark.e2e


def _pictures(run) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(m["content"]["data"]["image/png"])))
            for m in run.of("display_data") if "image/png" in m["content"]["data"]]


def test_an_image_model_from_the_magic_on_the_default_api(kernel, emu):
    run = kernel.execute("%%qwen -m wanx2.1-t2i-turbo -n 2 --size 1024x768 --seed 5 --negative blur --no-extend\n"
                         "A fox in the snow")
    assert run.reply["content"]["status"] == "ok", run.stderr
    body = emu.received[0]["body"]
    assert emu.received[0]["path"] == "/api/v1/services/aigc/text2image/image-synthesis"
    assert body["parameters"] == {"size": "1024*768", "n": 2, "seed": 5, "prompt_extend": False}
    assert body["input"] == {"prompt": "A fox in the snow", "negative_prompt": "blur"}
    pictures = _pictures(run)
    assert [(p.format, p.size) for p in pictures] == [("PNG", (96, 72))] * 2
    progress = [m["content"]["data"].get("text/plain", "") for m in run.of("update_display_data")]
    assert any("RUNNING" in text for text in progress) and any("PENDING" in text for text in progress)
    final = run.of("display_data")[-3]["content"]["data"]  # the result, then its two pictures
    assert "emulated" in final["text/plain"] and "[image 2: result.images[1]]" in final["text/plain"]
    assert "/emulator/images/" not in final["text/html"]  # no expiring link in the page
    check = kernel.execute("print(len(_qwen.images), _qwen.images[0].size, _qwen.api, len(_qwen.image_urls))")
    assert check.stdout.split() == ["2", "(96,", "72)", "dashscope", "2"]


def test_editing_a_picture_from_the_namespace(kernel, emu):
    kernel.execute("from PIL import Image\nphoto = Image.new('RGB', (30, 30), 'red')")
    run = kernel.execute("%%qwen -m wanx2.1-imageedit -i {photo}\nMake it blue")
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert emu.received[0]["path"].endswith("/image2image/image-synthesis")
    assert emu.received[0]["body"]["input"]["base_image_url"].startswith("data:image/png;base64,")
    assert _pictures(run)[0].getpixel((3, 3))[0] < 50  # the emulated edit inverted the red


def test_an_interrupt_cancels_the_image_task_on_the_service(kernel, emu, reliability):
    interrupted: list[bool] = []

    def interrupt_on_progress(msg):
        if msg["msg_type"] == "update_display_data" and "PENDING" in str(msg["content"]) and not interrupted:
            interrupted.append(True)
            threading.Thread(target=kernel.interrupt).start()

    run = kernel.execute("%%qwen -m wanx-v1~task-stuck\nA fox", on_message=interrupt_on_progress)
    cancelled = [task["status"] for task in emu.state.tasks.values()][-1] == "CANCELED"
    reliability.add("Faults", "interrupt while an image task waits (cancelled on the service)", tried=1,
                    failed=int(not cancelled or run.reply["content"].get("ename") != "Interrupted"))
    assert run.reply["content"]["ename"] == "Interrupted"
    assert emu.received[-1]["path"].endswith("/cancel") and emu.received[-1]["method"] == "POST"
    assert [task["status"] for task in emu.state.tasks.values()][-1] == "CANCELED"
    assert "⏹ Interrupted" in run.final["text/plain"] or "Interrupted" in run.final["text/html"]


def test_a_failed_task_ends_the_cell_in_one_line(kernel, reliability):
    run = kernel.execute("%%qwen -m wanx-v1~task-fail\nA fox")
    reliability.add("Faults", "an image task that ends FAILED", tried=1,
                    failed=int("ended FAILED" not in run.reply["content"].get("evalue", "")))
    assert run.reply["content"]["status"] == "error"
    assert "ended FAILED" in run.reply["content"]["evalue"]


def test_speak_plays_the_answer_and_keeps_it(kernel, emu):
    run = kernel.execute("%%qwen -m qwen3-omni-flash --speak Ethan\nwho are you")
    assert run.reply["content"]["status"] == "ok", run.stderr
    assert emu.received[-1]["body"]["audio"] == {"voice": "Ethan", "format": "wav"}
    player = run.of("display_data")[-1]["content"]["data"]
    assert player["text/html"].startswith('<div class="qwen-audio') and "<script" not in player["text/html"]
    wav = base64.b64decode(player["text/html"].split("base64,", 1)[1].split('"', 1)[0])
    with wave.open(io.BytesIO(wav)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, 24000)
    check = kernel.execute("print(_qwen.audio.seconds > 1, _qwen.text[:4])")
    assert check.stdout.split() == ["True", "I", "am"]


def test_a_saved_notebook_still_shows_the_pictures_and_the_player(emulator, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    from ..conftest import KEY

    monkeypatch.setenv("QWEN_JUPYTER_BASE_URL", emulator.url)
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
    monkeypatch.setenv("QWEN_JUPYTER_DB", str(tmp_path / "qwen.db"))
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("%load_ext qwen_jupyter"),
        nbformat.v4.new_code_cell("%%qwen -m qwen-image-plus\nA lighthouse at dusk"),
        nbformat.v4.new_code_cell("%%qwen -m qwen3-omni-flash --speak\nwho are you"),
    ])
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(notebook, path)
    saved = nbformat.read(path, as_version=4)
    picture = [o for o in saved.cells[1].outputs if "image/png" in o.get("data", {})]
    assert len(picture) == 1 and Image.open(io.BytesIO(base64.b64decode(picture[0].data["image/png"]))).size
    assert "data:audio/wav;base64," in saved.cells[2].outputs[-1].data["text/html"]
    assert "/emulator/images/" not in path.read_text()  # the pictures are in the file, not behind a link


def test_a_one_line_speak_keeps_the_first_word_of_the_question(kernel, emu):
    run = kernel.execute("%qwen -m qwen3-omni-flash --speak Hello, who are you?")
    assert run.reply["content"]["status"] == "ok", run.stderr
    body = emu.received[-1]["body"]
    assert body["audio"]["voice"] == "Cherry" and body["messages"][-1]["content"] == "Hello, who are you?"
    kernel.execute("%qwen -m qwen3-omni-flash --speak=Dylan hi")
    assert emu.received[-1]["body"]["audio"]["voice"] == "Dylan"
