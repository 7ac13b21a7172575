"""Turn what a person hands us (paths, URLs, bytes, PIL images, arrays, figures) into checked media parts."""

from __future__ import annotations

import base64
import io
import mimetypes
import os
from dataclasses import dataclass, field
from typing import Any

from .errors import QwenError

DATA_URL_LIMIT = 10 * 1024 * 1024  # "Exceeded limit on max bytes per data-uri item : 10485760"
MIN_FRAMES, MAX_FRAMES = 4, 512
MIN_SIDE, MAX_ASPECT = 10, 200

_MAGIC = (
    (b"\x89PNG", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF8", "image/gif"),
    (b"RIFF", "image/webp"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)
_HEIF_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"avif")
IMAGE_FORMATS = "PNG, JPEG, WEBP, GIF, BMP, TIFF or HEIC"


@dataclass(frozen=True, slots=True)
class Media:
    """One input: kind is image, video or audio; url is http(s) or a data URL; frames for a frame-list video."""

    kind: str
    url: str = field(repr=False)
    label: str = ""
    frames: tuple[str, ...] = field(default=(), repr=False)
    fps: float | None = None
    audio_format: str | None = None

    @property
    def is_frames(self) -> bool:
        return bool(self.frames)


def image(source: Any) -> Media:
    """An image from a path, URL, bytes, PIL image, numpy array or matplotlib figure."""
    if isinstance(source, Media):
        return source
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if _is_url(text):
            return Media("image", text, label=_short(text))
        data = _read(text, "image")
        return Media("image", _data_url(data, _image_mime(data, text), text), label=os.path.basename(text))
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
        return Media("image", _data_url(data, _image_mime(data, "the image bytes"), "image bytes"), label="bytes")
    png = _png_from_object(source)
    if png is None:
        raise QwenError(
            f"Cannot use a {type(source).__name__} as an image; pass a path, URL, bytes, PIL image, "
            "numpy array or matplotlib figure.",
            code="InvalidInput",
        )
    return Media("image", _data_url(png, "image/png", type(source).__name__), label=type(source).__name__)


def video(source: Any, fps: float | None = None) -> Media:
    """A video from a file, a URL, or a list of frames (each anything image() accepts)."""
    if isinstance(source, Media):
        return source
    if isinstance(source, (list, tuple)):
        if not MIN_FRAMES <= len(source) <= MAX_FRAMES:
            raise QwenError(
                f"A frame-list video needs {MIN_FRAMES} to {MAX_FRAMES} frames; got {len(source)}.",
                code="InvalidInput",
            )
        frames = tuple(image(frame).url for frame in source)
        if fps is not None and not 0.1 <= fps <= 10:
            raise QwenError(f"fps must be between 0.1 and 10; got {fps}.", code="InvalidInput")
        return Media("video", frames[0], label=f"{len(frames)} frames", frames=frames, fps=fps)
    text = os.fspath(source)
    if _is_url(text):
        return Media("video", text, label=_short(text), fps=fps)
    data = _read(text, "video")
    _not_a_picture(data, text, "video")
    mime = mimetypes.guess_type(text)[0] or "video/mp4"
    return Media("video", _data_url(data, mime, text), label=os.path.basename(text), fps=fps)


def audio(source: Any) -> Media:
    """An audio clip from a file or URL (the format comes from the extension)."""
    if isinstance(source, Media):
        return source
    text = os.fspath(source)
    fmt = os.path.splitext(text.split("?")[0])[1].lstrip(".").lower() or "wav"
    if _is_url(text):
        return Media("audio", text, label=_short(text), audio_format=fmt)
    data = _read(text, "audio")
    _not_a_picture(data, text, "audio")
    # Qwen-Omni's documented data URL form has no media type: "data:;base64,…".
    return Media("audio", _data_url(data, "", text), label=os.path.basename(text), audio_format=fmt)


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://", "data:", "oss://"))


def _short(url: str) -> str:
    return url if len(url) <= 60 else url[:57] + "..."


def _read(path: str, kind: str) -> bytes:
    expanded = os.path.expanduser(path.removeprefix("file://"))
    if not os.path.isfile(expanded):
        raise QwenError(f"The {kind} file {path!r} does not exist.", code="InvalidInput", hint="")
    with open(expanded, "rb") as fh:
        return fh.read()


def _picture_type(data: bytes) -> str | None:
    """The image type its first bytes say, or None."""
    for magic, mime in _MAGIC:
        if data.startswith(magic) and (mime != "image/webp" or data[8:12] == b"WEBP"):
            return mime
    if data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS:
        return "image/heic"
    return None


def _not_a_picture(data: bytes, name: str, kind: str) -> None:
    """A picture given as a video or audio clip is refused before it is sent (the service would only fail)."""
    found = _picture_type(data)
    if found:
        option = "-i PATH (image= in chat())"
        raise QwenError(f"{name} is a picture ({found}), not {'a video' if kind == 'video' else 'audio'}; "
                        f"send it with {option}.", code="InvalidInput", hint="")


def _image_mime(data: bytes, name: str) -> str:
    """The image type from the file's first bytes; anything else is refused before it is sent."""
    found = _picture_type(data)
    if found:
        return found
    guessed = mimetypes.guess_type(name)[0] if name else None
    looks_like = f" (it looks like {guessed})" if guessed else ""
    raise QwenError(f"{name} is not an image{looks_like}; images must be {IMAGE_FORMATS}.", code="InvalidInput",
                    hint="")


def _data_url(data: bytes, mime: str, name: str) -> str:
    url = f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
    if len(url) > DATA_URL_LIMIT:
        raise QwenError(
            f"{name} is {len(data) / 1e6:.1f} MB; encoded it exceeds Model Studio's 10 MB limit per inline item. "
            "Resize it or pass an http(s) URL.",
            code="InvalidInput",
            hint="",
        )
    if mime.startswith("image/"):
        _check_dimensions(data, name)
    return url


def _check_dimensions(data: bytes, name: str) -> None:
    try:
        from PIL import Image as PILImage
    except ImportError:  # pillow is optional; the service checks sizes too
        return
    try:
        width, height = PILImage.open(io.BytesIO(data)).size
    except Exception as exc:  # noqa: BLE001 - any decoder failure means "not an image"
        raise QwenError(f"{name} is not a readable image.", code="InvalidInput", hint="") from exc
    if min(width, height) < MIN_SIDE or max(width, height) / min(width, height) > MAX_ASPECT:
        raise QwenError(
            f"{name} is {width}x{height}; images need sides of at least {MIN_SIDE} px and an aspect ratio "
            f"of at most {MAX_ASPECT}:1.",
            code="InvalidInput",
            hint="",
        )


def _png_from_object(obj: Any) -> bytes | None:
    """PNG bytes for a PIL image, numpy array or matplotlib figure; None for anything else."""
    module = type(obj).__module__
    buffer = io.BytesIO()
    if hasattr(obj, "savefig"):  # matplotlib Figure
        obj.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()
    if module.startswith("PIL."):
        obj.save(buffer, format="PNG")
        return buffer.getvalue()
    if module == "numpy" and getattr(obj, "ndim", 0) in (2, 3):
        from PIL import Image as PILImage

        array = obj
        if array.dtype.kind == "f":  # floats in [0, 1], as matplotlib and skimage produce
            array = (array.clip(0, 1) * 255).astype("uint8")
        PILImage.fromarray(array.astype("uint8")).save(buffer, format="PNG")
        return buffer.getvalue()
    return None


def is_image_object(obj: Any) -> bool:
    """Whether {obj} in a prompt should become an image input rather than text."""
    module = type(obj).__module__
    return (
        module.startswith("PIL.")
        and hasattr(obj, "save")
        or module == "numpy"
        and getattr(obj, "ndim", 0) == 3
        and getattr(obj, "shape", (0, 0, 0))[2] in (3, 4)
        or module.startswith("matplotlib.")
        and hasattr(obj, "savefig")
    )
