"""What the documentation says about model families: which native endpoint, thinking and streaming defaults."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ModelInfo:
    name: str
    multimodal: bool = False        # native API: multimodal-generation endpoint, content is a list
    thinking_default: bool = False  # thinks unless enable_thinking is false
    thinking_only: bool = False     # refuses enable_thinking=false
    hybrid: bool = False            # enable_thinking can switch thinking on
    stream_only: bool = False       # refuses non-streamed calls
    image_generation: bool = False  # answers with images (sync multimodal endpoint)
    image_task: bool = False        # answers through the asynchronous image-synthesis task API


def _version(name: str) -> float:
    match = re.match(r"qwen(\d+(?:\.\d+)?)", name)
    return float(match.group(1)) if match else 0.0


def model_info(model: str) -> ModelInfo:
    """Capabilities of a model id, from its family name (unknown names get safe text-model defaults)."""
    name = model.lower()
    if "omni" in name:
        return ModelInfo(model, multimodal=True, stream_only=True)  # Omni: compatible mode, streamed only
    if name.startswith("wanx") or (name.startswith("wan2") and "t2i" in name):
        return ModelInfo(model, image_task=True)
    if name.startswith(("qwen-image", "wan2.6-image", "wan2.7-image")):
        return ModelInfo(model, multimodal=True, image_generation=True)
    if name.startswith("qvq"):
        return ModelInfo(model, multimodal=True, thinking_default=True, thinking_only=True, stream_only=True)
    if name.startswith("qwq") or "thinking" in name:
        return ModelInfo(model, thinking_default=True, thinking_only=True, stream_only=True)
    if "-vl" in name or name.startswith("qwen-vl"):
        hybrid = name.startswith("qwen3")
        return ModelInfo(model, multimodal=True, hybrid=hybrid)
    if _version(name) >= 3.5:
        return ModelInfo(model, multimodal=True, thinking_default=True, hybrid=True)
    if name.startswith("qwen3-"):
        # Qwen3 open-source sizes (qwen3-32b…) think by default and stream only; qwen3-max is hybrid, off.
        opensource = bool(re.match(r"qwen3-\d", name))
        return ModelInfo(model, hybrid=True, thinking_default=opensource, stream_only=opensource)
    if name.startswith(("qwen-plus", "qwen-flash", "qwen-turbo", "qwen-max")):
        return ModelInfo(model, hybrid=name.startswith(("qwen-plus", "qwen-flash", "qwen-turbo")))
    return ModelInfo(model)
