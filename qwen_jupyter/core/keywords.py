"""The keywords the Python API takes by name. chat(), map() and the operators pass a keyword they do not know to the
service as a parameter (so a new Model Studio parameter needs no new release), which makes a slip such as
`thresold=` or `modle=` a parameter the service ignores, after the rows are paid for. A keyword that is not one of
these but reads like one is refused before anything is sent. A test keeps the list in step with the signatures.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Iterable

from .errors import QwenError

KEYWORDS = frozenset({
    # chat(), achat(), compare(), prepare()
    "prompt", "conversation", "max_answer_chars", "max_rounds", "confirm", "agent", "yes", "mcp", "mcp_prefix",
    "model", "models", "image", "video", "audio", "fps", "think", "budget", "system", "history", "speak",
    "modalities", "api", "region", "base_url", "api_key", "timeout", "max_retries", "offline", "cassette",
    "cassette_mode", "file", "tools", "code_interpreter",
    # the request (core/request.py's Request) and the specialised options (core/options.py's expand())
    "stream", "thinking", "thinking_budget", "temperature", "top_p", "max_tokens", "seed", "search",
    "search_options", "json_mode", "logprobs", "prefix", "extra", "preset", "presets", "to", "source", "terms",
    "domains", "memory", "ocr", "ocr_schema", "documents", "messages",
    # map(), classify(), filter(), batch_result()
    "data", "template", "question", "labels", "threshold", "into", "keep", "probe", "concurrency", "batch",
    "schema", "db", "dry_run", "preview_above", "prices", "rpm", "tpm", "progress", "namespace", "raw",
    "batch_lines", "cache", "wait", "job_id", "confirm_hint",
    # Model Studio parameters people pass through as they are (exact, so none reads as a slip of another)
    "top_k", "repetition_penalty", "presence_penalty", "frequency_penalty", "stop", "n", "enable_thinking",
    "enable_search", "result_format", "incremental_output", "response_format", "tool_choice",
    "parallel_tool_calls", "top_logprobs", "vl_high_resolution_images", "max_input_tokens", "stream_options",
    "translation_options", "ocr_options", "asr_options", "web_search_options", "enable_code_interpreter", "user",
    "logit_bias",
})


def check_spelling(names: Iterable[str]) -> None:
    """Refuse a keyword that is not the toolkit's but reads like one of its own (one line, did you mean)."""
    for name in names:
        meant = _meant(name)
        if meant:
            raise QwenError(f"{name}= is not a keyword of qwen_jupyter; did you mean {meant}=?", code="InvalidInput",
                            hint="Keywords it does not take go to the service as parameters, as they are.")


@functools.cache
def _meant(name: str) -> str | None:
    if name in KEYWORDS:
        return None
    close = difflib.get_close_matches(name, KEYWORDS, n=1, cutoff=0.8)
    return close[0] if close else None
