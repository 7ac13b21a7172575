"""The specialised options of chat() and %%qwen, turned into what the request carries: presets into sampling,
translation and OCR options into the documented parameters, --logprobs into a checked K.

Presets. Model Studio's reference (shared/reference) gives the ranges of temperature [0, 2) and top_p (0, 1] but
no table of values per scenario, so these are qwen_jupyter's own choices, labelled as such: low temperature and
top_p where one right answer is wanted (code, facts, translation), high where variety is (creative writing).
Users add or override presets with `%config QwenMagics.presets = {"name": {"temperature": …, "top_p": …}}`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import QwenError
from .settings import configured

PRESETS: dict[str, dict[str, float]] = {  # qwen_jupyter's choices (see the module docstring), not Model Studio's
    "creative": {"temperature": 1.0, "top_p": 0.95},
    "code": {"temperature": 0.2, "top_p": 0.8},
    "factual": {"temperature": 0.1, "top_p": 0.7},
    "translation": {"temperature": 0.3, "top_p": 0.8},
}
OCR_TASKS = ("text_recognition", "advanced_recognition", "key_information_extraction", "table_parsing",
             "document_parsing", "formula_recognition", "multi_lan")
TRANSLATION_MODEL = "qwen-mt-plus"
OCR_MODEL = "qwen-vl-ocr-latest"
RESEARCH_MODEL = "qwen-deep-research"
DOCUMENT_MODELS = ("qwen-long", "qwen-doc")
FILE_PREFIX = "fileid://"
# Qwen-MT's most asked-for targets, by the English names it takes (it knows 92): the panel's Translate picker.
LANGUAGES = ("English", "Chinese", "Japanese", "Korean", "French", "German", "Spanish", "Russian", "Arabic",
             "Portuguese")
MAX_TOP = 5  # Model Studio returns at most five alternatives a token
DEFAULT_TOP = 3  # alternatives a token for a bare --logprobs
SAMPLING = ("temperature", "top_p", "top_k", "repetition_penalty", "presence_penalty")


def check_top(top: int | None) -> int | None:
    """The K of --logprobs K, checked (0 asks for log probabilities without alternatives)."""
    if top is not None and not 0 <= top <= MAX_TOP:
        raise QwenError(f"--logprobs takes 0 to {MAX_TOP} alternatives, not {top}.", code="InvalidInput",
                        hint="e.g. --logprobs 3, or logprobs=3 in chat().")
    return top


def top_or_word(value: str | None) -> tuple[int | None, str]:
    """`--logprobs What is 2+2?` asks with the default K: a word after --logprobs is K only when it is a number.
    Returns (K, word for the prompt)."""
    if value is None or value.lstrip("-").isdigit():
        return (None if value is None else int(value)), ""
    return DEFAULT_TOP, value


def preset_values(preset: str | dict[str, Any], presets: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sampling values of a preset: a name (the user's own first, then the built-in ones) or a dict."""
    if isinstance(preset, dict):
        values = preset
    else:
        known = {**PRESETS, **configured("presets", {}), **(presets or {})}  # the notebook's own, then given
        if preset not in known:
            raise QwenError(f"There is no preset {preset!r}; known: {', '.join(sorted(known))}.",
                            code="InvalidInput", hint="Define one with %config QwenMagics.presets = "
                                                      "{'name': {'temperature': 0.5, 'top_p': 0.9}}.")
        values = known[preset]
    unknown = sorted(set(values) - set(SAMPLING))
    if unknown:
        raise QwenError(f"A preset sets sampling only ({', '.join(SAMPLING)}), not {', '.join(unknown)}.",
                        code="InvalidInput", hint="")
    return dict(values)


def _pairs(value: Any, what: str) -> list[dict[str, str]]:
    """Terms or memory as the service takes them: [{"source": …, "target": …}] from a dict or pairs."""
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, (list, tuple)):
        items = [(v["source"], v["target"]) if isinstance(v, dict) else tuple(v) for v in value]
    else:
        raise QwenError(f"{what} must be a dict {{source: target}} or a list of pairs.", code="InvalidInput",
                        hint='e.g. {"博客园": "cnblogs"}')
    return [{"source": str(s), "target": str(t)} for s, t in items]


def translation_alone(to: str | None, documents: Any) -> None:
    """Qwen-MT translates the text it is given, alone: documents (read by qwen-long) cannot go with it."""
    if to and documents:
        raise QwenError("Translation takes the text alone, not documents (they go to qwen-long): ask about them "
                        "without translating, or paste their text.", code="InvalidInput", hint="")


@dataclass(frozen=True)
class Family:
    """The models that can do what an option asks: those whose names have one of `names`; `model` by default."""

    names: tuple[str, ...]
    model: str
    does: str  # what they do, for the errors

    def fits(self, model: str) -> bool:
        """Whether the model is one of this family."""
        return any(name in model for name in self.names)


TRANSLATORS = Family(("qwen-mt",), TRANSLATION_MODEL, "translate (--to)")
OCR_READERS = Family(("ocr",), OCR_MODEL, "run OCR tasks (--ocr)")
DOCUMENT_READERS = Family(DOCUMENT_MODELS, DOCUMENT_MODELS[0], "read documents (--file)")


# What a request may ask that a document model does not do: such a question is not a follow-up on the documents.
BEYOND_DOCUMENTS = ("thinking", "search", "search_options", "tools", "json_mode", "code_interpreter", "logprobs",
                    "modalities", "to", "ocr")


def beyond_documents(options: dict[str, Any]) -> bool:
    """Whether build_request options ask for something a document model (qwen-long) does not do."""
    return any(options.get(name) for name in BEYOND_DOCUMENTS)


def documents_message(file_ids: Iterable[str]) -> str:
    """The system message that hands qwen-long its documents: every file id, `fileid://` each, comma-separated."""
    return ",".join(FILE_PREFIX + file_id for file_id in file_ids)


def sent_documents(messages: Iterable[Any]) -> tuple[str, ...]:
    """The file ids named by the `fileid://` system messages among these messages, in order."""
    return tuple(dict.fromkeys(
        reference.strip().removeprefix(FILE_PREFIX) for message in messages
        if message.role == "system" and message.text.startswith(FILE_PREFIX)
        for reference in message.text.split(",") if reference.strip().startswith(FILE_PREFIX)))


def check_chosen_model(model: str | None, to: str | None = None, ocr: str | None = None,
                       documents: Any = None) -> None:
    """A model named with -m (or model=) that cannot do what the options ask is an error, not silently replaced
    (with no model named, the one that can is used)."""
    if not model:
        return
    for needed, family in ((to, TRANSLATORS), (ocr, OCR_READERS), (documents, DOCUMENT_READERS)):
        if needed and not family.fits(model):
            raise QwenError(f"{model} does not {family.does}; {family.model} does. Leave out -m (model=) to use it.",
                            code="InvalidInput", hint="")


def check_compared(models: list[str], extra: dict[str, Any], documents: bool) -> None:
    """Every compared model takes the request's specialised options: a translation compares Qwen-MT models, an
    OCR task OCR models, documents (fileid:// system messages) qwen-long and qwen-doc."""
    for needed, family, example in (("translation_options" in extra, TRANSLATORS, "qwen-mt-plus,qwen-mt-turbo"),
                                    ("ocr_options" in extra, OCR_READERS, "qwen-vl-ocr-latest,qwen-vl-ocr"),
                                    (documents, DOCUMENT_READERS, "qwen-long,qwen-doc-turbo")):
        others = [m for m in models if needed and not family.fits(m)]
        if others:
            raise QwenError(f"{', '.join(others)} cannot answer this (it needs a {' or '.join(family.names)} "
                            f"model); compare those, e.g. {example}.", code="InvalidInput", hint="")


def translation_options(to: str, source: str | None = None, terms: Any = None, domains: str | None = None,
                        memory: Any = None) -> dict[str, Any]:
    """Qwen-MT's translation_options: languages by English name, terms, translation memory, a domain hint."""
    options: dict[str, Any] = {"source_lang": source or "auto", "target_lang": to}
    if terms:
        options["terms"] = _pairs(terms, "terms")
    if memory:
        options["tm_list"] = _pairs(memory, "memory")
    if domains:
        options["domains"] = domains
    return options


def ocr_options(task: str, schema: Any = None) -> dict[str, Any]:
    """The ocr_options of a built-in task (a result schema for key_information_extraction)."""
    task = task.strip().lower()  # TABLE_PARSING is table_parsing
    if task not in OCR_TASKS:
        raise QwenError(f"There is no OCR task {task!r}; the built-in ones are {', '.join(OCR_TASKS)}.",
                        code="InvalidInput", hint="")
    options: dict[str, Any] = {"task": task}
    if schema is not None:
        if task != "key_information_extraction":
            raise QwenError("A result schema goes with --ocr key_information_extraction only.",
                            code="InvalidInput", hint="")
        options["task_config"] = {"result_schema": schema}
    return options


def expand(model: str, options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The model and build_request options after the specialised ones are turned into parameters."""
    options = dict(options)
    if options.get("logprobs") is not None:
        top = options.pop("logprobs")
        if top is True:
            top = 0
        options["logprobs"] = None if top is False else check_top(int(top))
    preset = options.pop("preset", None)
    if preset:
        for name, value in preset_values(preset, options.pop("presets", None)).items():
            if options.get(name) is None:  # an explicit -t or temperature= wins over the preset
                options[name] = value
    options.pop("presets", None)
    extra = dict(options.pop("extra", None) or {})
    to = options.pop("to", None)
    translation = {k: options.pop(k, None) for k in ("source", "terms", "domains", "memory")}
    if to:
        extra["translation_options"] = translation_options(to, **translation)
        model = model if TRANSLATORS.fits(model) else TRANSLATORS.model
    elif any(translation.values()):
        raise QwenError("--from, --terms, --domain and --memory go with --to LANGUAGE.", code="InvalidInput",
                        hint="e.g. %%qwen --to English")
    ocr, schema = options.pop("ocr", None), options.pop("ocr_schema", None)
    if ocr:
        extra["ocr_options"] = ocr_options(ocr, schema)
        model = model if OCR_READERS.fits(model) else OCR_READERS.model
    if options.get("documents") and not DOCUMENT_READERS.fits(model):
        model = DOCUMENT_READERS.model
    if extra:
        options["extra"] = extra
    return model, options


def api_needed(model: str, extra: dict[str, Any], documents: bool, api: str) -> str:
    """The API this request needs: the native one for OCR's built-in tasks and deep research, Chat Completions
    instead of Responses for documents (fileid:// system messages)."""
    if "ocr_options" in extra or model.startswith(RESEARCH_MODEL):
        return "dashscope"
    if api == "responses" and documents:
        return "openai"
    return api


def context_free(extra: dict[str, Any]) -> bool:
    """Whether the request is one user message alone: Qwen-MT requires it (no system message, no history), and
    an OCR task reads the image it is given, not earlier turns."""
    return "translation_options" in extra or "ocr_options" in extra
