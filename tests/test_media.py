"""Inputs: every accepted image form, frame-list videos, audio, and the documented limits with clear errors."""

from __future__ import annotations

import base64

import pytest

from qwen_jupyter.core import media
from qwen_jupyter.core.errors import QwenError


def _decoded(url: str) -> bytes:
    return base64.b64decode(url.split(",", 1)[1])


def test_image_from_path_bytes_pil_numpy_and_figure(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from PIL import Image

    path = tmp_path / "photo.jpg"
    Image.new("RGB", (20, 20), "green").save(path)
    from_path = media.image(str(path))
    assert from_path.url.startswith("data:image/jpeg;base64,") and from_path.label == "photo.jpg"
    assert media.image(path.read_bytes()).url.startswith("data:image/jpeg;base64,")
    assert _decoded(media.image(Image.new("RGB", (12, 12))).url).startswith(b"\x89PNG")
    assert _decoded(media.image(np.zeros((16, 16, 3), dtype="uint8")).url).startswith(b"\x89PNG")
    assert _decoded(media.image(np.ones((16, 16, 3), dtype="float64")).url).startswith(b"\x89PNG")
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([1, 2, 3])
    assert _decoded(media.image(fig).url).startswith(b"\x89PNG")
    plt.close(fig)


def test_urls_pass_through_unchanged():
    assert media.image("https://example.com/cat.png").url == "https://example.com/cat.png"
    assert media.video("https://example.com/clip.mp4", fps=2).fps == 2


def test_missing_file_names_the_file():
    with pytest.raises(QwenError, match="The image file 'nope/cat.png' does not exist"):
        media.image("nope/cat.png")


def test_oversized_inline_image_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "huge.png"
    path.write_bytes(b"\x89PNG" + b"0" * (8 * 1024 * 1024))
    with pytest.raises(QwenError, match=r"huge.png is 8.4 MB; encoded it exceeds .* 10 MB limit"):
        media.image(str(path))


def test_tiny_or_extreme_images_are_refused(tmp_path):
    from PIL import Image

    with pytest.raises(QwenError, match="sides of at least 10 px"):
        media.image(Image.new("RGB", (5, 50)))
    with pytest.raises(QwenError, match="aspect ratio"):
        media.image(Image.new("RGB", (4100, 20)))


def test_unusable_objects_are_a_clear_error():
    with pytest.raises(QwenError, match="Cannot use a dict as an image"):
        media.image({"not": "an image"})


def test_frame_videos_need_four_to_512_frames():
    frames = ["https://example.com/f.jpg"] * 3
    with pytest.raises(QwenError, match="4 to 512 frames; got 3"):
        media.video(frames)
    video = media.video(frames + frames, fps=1)
    assert video.is_frames and len(video.frames) == 6 and video.label == "6 frames"


def test_audio_from_file_and_url(tmp_path):
    path = tmp_path / "talk.wav"
    path.write_bytes(b"RIFFfake")
    clip = media.audio(str(path))
    assert clip.url.startswith("data:;base64,") and clip.audio_format == "wav"
    assert media.audio("https://example.com/a.mp3?sig=1").audio_format == "mp3"


def test_image_objects_in_prompts_are_recognised():
    import numpy as np
    from PIL import Image

    assert media.is_image_object(Image.new("RGB", (12, 12)))
    assert media.is_image_object(np.zeros((12, 12, 3)))
    assert not media.is_image_object(np.zeros((12, 12)))  # a 2-D table is data, not a picture
    assert not media.is_image_object("cat.png")
