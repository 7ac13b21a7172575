"""What the documentation says about model families: which native endpoint, thinking and streaming defaults."""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_MODEL = "qwen-plus"  # what answers when neither a cell, a call nor %config names a model


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
    image_edit: bool = False        # edits the images it is given (image2image task, or qwen-image-edit)
    inputs: frozenset[str] | None = None  # media kinds it takes; None: not known (the service decides)
    code_interpreter: bool | None = None  # has the service's code interpreter; None: not known (it decides)


_VISION = frozenset({"image", "video"})
_TEXT: frozenset[str] = frozenset()
TAKES = {  # model families by the media they take, for the error that names them
    "image": "qwen-vl-max, qwen3-vl-plus, qwen3.5-plus, qvq-max or qwen3-omni-flash",
    "video": "qwen-vl-max, qwen3-vl-plus, qwen3.5-plus or qwen3-omni-flash",
    "audio": "qwen3-omni-flash or qwen-audio-turbo",
}


def _version(name: str) -> float:
    match = re.match(r"qwen(\d+(?:\.\d+)?)", name)
    return float(match.group(1)) if match else 0.0


def _wan_version(name: str) -> float:
    match = re.match(r"wan(\d+(?:\.\d+)?)-", name)
    return float(match.group(1)) if match else 0.0


def model_info(model: str) -> ModelInfo:
    """Capabilities of a model id, from its family name (unknown names get safe text-model defaults)."""
    name = model.lower()
    if "omni" in name:  # Omni: compatible mode, streamed only
        return ModelInfo(model, multimodal=True, stream_only=True, inputs=frozenset({"image", "video", "audio"}))
    if "audio" in name or "asr" in name:
        return ModelInfo(model, multimodal=True, inputs=frozenset({"audio"}))
    if "imageedit" in name or (name.startswith("wan2") and "i2i" in name):
        return ModelInfo(model, image_task=True, image_edit=True, inputs=frozenset({"image"}))
    if name.startswith("wanx") or (name.startswith("wan2") and "t2i" in name):
        if _wan_version(name) >= 2.6:  # its task API is another protocol; the synchronous endpoint is documented
            return ModelInfo(model, multimodal=True, image_generation=True)
        return ModelInfo(model, image_task=True)
    if name.startswith("qwen-image-edit"):
        return ModelInfo(model, multimodal=True, image_generation=True, image_edit=True, inputs=frozenset({"image"}))
    if name.startswith(("qwen-image", "wan2.6-image", "wan2.7-image")):
        return ModelInfo(model, multimodal=True, image_generation=True)
    if name.startswith("qvq"):
        return ModelInfo(model, multimodal=True, thinking_default=True, thinking_only=True, stream_only=True,
                         inputs=_VISION)
    if "-vl" in name or name.startswith("qwen-vl"):
        thinking = "thinking" in name
        return ModelInfo(model, multimodal=True, hybrid=name.startswith("qwen3") and not thinking,
                         thinking_default=thinking, thinking_only=thinking, stream_only=thinking, inputs=_VISION)
    if name.startswith("qwq") or "thinking" in name:
        return ModelInfo(model, thinking_default=True, thinking_only=True, stream_only=True, inputs=_TEXT)
    if _version(name) >= 3.5:
        return ModelInfo(model, multimodal=True, thinking_default=True, hybrid=True, inputs=_VISION)
    if name.startswith("qwen3-"):
        # Qwen3 open-source sizes (qwen3-32b…) think by default and stream only; qwen3-max is hybrid, off.
        opensource = bool(re.match(r"qwen3-\d", name))
        return ModelInfo(model, hybrid=True, thinking_default=opensource, stream_only=opensource, inputs=_TEXT)
    if name.startswith(("qwen-plus", "qwen-flash", "qwen-turbo", "qwen-max", "qwen-long", "qwen-mt", "qwen-coder")):
        hybrid = name.startswith(("qwen-plus", "qwen-flash", "qwen-turbo"))
        return ModelInfo(model, hybrid=hybrid, inputs=_TEXT, code_interpreter=False)
    return ModelInfo(model)


CODE_INTERPRETER = "qwen3-max (with thinking)"  # the documented family (enable_code_interpreter)


def has_code_interpreter(model: str) -> bool | None:
    """Whether a model has the service's code interpreter: the documented qwen3-max family does; the families
    known to be without it (older text models, vision, audio, images, translation, OCR) do not; None: unknown."""
    info = model_info(model)
    name = model.lower()
    if name.startswith("qwen3-max"):
        return True
    if info.code_interpreter is False or makes_images(model) or "-vl" in name or name.startswith(("qwen-vl", "qvq")) \
            or any(word in name for word in ("omni", "audio", "asr", "-mt", "ocr")):
        return False
    return None


def makes_images(model: str) -> bool:
    """Whether a model answers with images (a task, or the multimodal-generation endpoint)."""
    info = model_info(model)
    return info.image_task or info.image_generation


def api_for(model: str, api: str, speaks: bool = False) -> str:
    """The API a request needs whatever `api` says: images come only from the native API, a spoken answer
    only from Chat Completions (compatible mode)."""
    if makes_images(model):
        return "dashscope"
    return "openai" if speaks else api
