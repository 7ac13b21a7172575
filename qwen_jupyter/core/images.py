"""Generated images kept by a result: PNG bytes (already checked when downloaded) opened as PIL images and saved."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def open_png(data: bytes) -> Any:
    """A PIL image from PNG bytes the backend wrote (loaded, so no file stays open)."""
    from PIL import Image

    image = Image.open(io.BytesIO(data), formats=("PNG",))
    image.load()
    return image


def save_pngs(pngs: Sequence[bytes], target: str | os.PathLike[str], stem: str = "image") -> list[Path]:
    """Write PNGs: into a folder (STEM-1.png, …), by a pattern with {n} ("fox-{n}.png"), or to one file name
    (numbered -1, -2, … when there are several). Folders are made as needed; returns the paths written."""
    text = os.fspath(target)
    path = Path(text)
    if "{n}" in text:
        paths = [Path(text.replace("{n}", str(n))) for n in range(1, len(pngs) + 1)]
    elif path.is_dir() or text.endswith(("/", os.sep)) or not path.suffix:
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-") or "image"
        paths = [path / f"{safe}-{n}.png" for n in range(1, len(pngs) + 1)]
    elif len(pngs) == 1:
        paths = [path]
    else:
        paths = [path.with_name(f"{path.stem}-{n}{path.suffix}") for n in range(1, len(pngs) + 1)]
    for file, data in zip(paths, pngs, strict=True):
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(data)
    return paths
