"""The service's request rules that every API shares, with the documented error messages."""

from __future__ import annotations

import re
from typing import Any

from ..core.models import model_info
from .errors import ApiError, invalid

DATA_URL_LIMIT = 10 * 1024 * 1024
MAX_THINKING_BUDGET = 38912
_KNOWN = re.compile(r"^(qwen|qwq|qvq|wan)", re.IGNORECASE)


def check_model(model: str) -> None:
    """404 for names no Qwen family has (so typos are caught as the service would)."""
    if not model:
        raise invalid("Model not found")
    if not _KNOWN.match(model):
        raise ApiError(404, "ModelNotFound", f"The model {model} does not exist or you do not have access to it.",
                       "model_not_found")


def resolve_thinking(model: str, enable_thinking: Any, stream: bool, budget: Any) -> bool:
    """Whether the model thinks for this request, rejecting what the service rejects."""
    info = model_info(model)
    if info.thinking_only and enable_thinking is False:
        raise invalid("The value of the enable_thinking parameter is restricted to True.")
    thinking = bool(enable_thinking) if info.hybrid and enable_thinking is not None else info.thinking_default
    if not stream and info.stream_only:
        raise invalid("This model only support stream mode, please enable the stream parameter to access the model.")
    if not stream and thinking and not info.multimodal:
        raise invalid("parameter.enable_thinking must be set to false for non-streaming calls")
    if budget is not None and (not isinstance(budget, int) or not 0 < budget <= MAX_THINKING_BUDGET):
        raise invalid(
            "The thinking_budget parameter must be a positive integer and not greater than "
            f"{MAX_THINKING_BUDGET}"
        )
    return thinking


def check_sampling(parameters: dict[str, Any]) -> None:
    """Temperature and top_p ranges."""
    temperature = parameters.get("temperature")
    if temperature is not None and not 0 <= temperature < 2:
        raise invalid("Temperature should be in [0.0, 2.0)")
    top_p = parameters.get("top_p")
    if top_p is not None and not 0 < top_p <= 1:
        raise invalid("Range of top_p should be (0.0, 1.0]")


def check_json_mode(thinking: bool, texts: list[str]) -> None:
    """JSON mode needs the word json in the messages and no thinking."""
    if thinking:
        raise invalid("Json mode response is not supported when enable_thinking is true")
    if not any("json" in text.lower() for text in texts):
        raise invalid("'messages' must contain the word 'json' in some form, to use 'response_format' of type "
                      "'json_object'.")


def check_url(url: Any, kind: str) -> None:
    """Media URLs: http(s), oss or base64 data URLs within the size limit."""
    if not isinstance(url, str) or not url.startswith(("http://", "https://", "data:", "oss://")):
        raise invalid(f"The {kind} URL must start with http://, https:// or data:.")
    if url.startswith("data:"):
        if ";base64," not in url[:100]:
            raise invalid(f"The {kind} data URL must be base64 encoded.")
        if len(url) > DATA_URL_LIMIT:
            raise invalid(f"Exceeded limit on max bytes per data-uri item : {DATA_URL_LIMIT}")


def check_order(roles: list[str]) -> None:
    """The last message must come from the user (or be a tool result), as the service requires."""
    if not roles:
        raise invalid("Either \"prompt\" or \"messages\" must exist and cannot both be none")
    if roles[-1] not in ("user", "tool"):
        raise ApiError(500, "InternalError", "list index out of range", "internal_error", "internal_error")


def check_tool_results(messages: list[dict[str, Any]]) -> None:
    """Each assistant's tool calls answered, each by its id, before the conversation goes on (chat messages)."""
    pending: set[str] = set()
    for message in messages:
        if message.get("role") == "tool":
            answered = message.get("tool_call_id")
            if answered not in pending:
                raise invalid(f"The tool message's tool_call_id {answered!r} answers no tool call before it.")
            pending.discard(answered)
            continue
        if pending:
            raise invalid("An assistant message with tool_calls must be followed by tool messages responding to "
                          f"each tool_call_id; not answered: {', '.join(sorted(pending))}.")
        pending = {c.get("id") for c in message.get("tool_calls") or () if isinstance(c, dict)}


def check_function_outputs(items: list[dict[str, Any]]) -> None:
    """Responses input: each function_call_output comes after the function_call it answers."""
    called: set[str] = set()
    for item in items:
        if item.get("type") == "function_call":
            called.add(item.get("call_id"))
        elif item.get("type") == "function_call_output" and item.get("call_id") not in called:
            raise invalid(f"No tool call found for function call output with call_id {item.get('call_id')!r}.")
