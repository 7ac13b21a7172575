"""Pictures the tests draw for themselves (a clean checkout has no image files to point at)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path


@functools.cache
def house_png() -> str:
    """The path of a small PNG of a house (the one multimodal.ipynb draws), made once per test process."""
    from PIL import Image, ImageDraw

    path = Path(tempfile.mkdtemp(prefix="qwen-pictures-")) / "house.png"
    photo = Image.new("RGB", (200, 120), "skyblue")
    ImageDraw.Draw(photo).rectangle((60, 40, 140, 110), fill="sienna")
    photo.save(path)
    return str(path)
