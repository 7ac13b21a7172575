"""%%qwen's specialised options (the "Specialised" group) as chat() keyword arguments."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

from ..core.errors import QwenError
from ..core.options import check_chosen_model, translation_alone


def _structured(text: str | None, value: Callable[[str], Any], option: str) -> Any:
    """A dict or list option: JSON typed on the line (pasted JSON has braces too), or {expression} from the
    namespace."""
    if text is None:
        return None
    with contextlib.suppress(json.JSONDecodeError):
        return json.loads(text)
    found = value(text)
    if not isinstance(found, str):
        return found
    try:
        return json.loads(found)
    except json.JSONDecodeError:
        raise QwenError(f"{option} takes a {{variable}} or JSON in quotes, such as '{{\"key\": \"value\"}}', "
                        f"not {text!r}.", code="InvalidInput", hint="") from None


def request_options(args: Any, value: Callable[[str], Any]) -> dict[str, Any]:
    """build_request options from the parsed magic line; `value` reads a {variable} from the namespace."""
    translation_alone(args.to, args.files)  # before any document is uploaded
    check_chosen_model(args.model, args.to, args.ocr, args.files)
    options: dict[str, Any] = {
        "logprobs": args.logprobs, "prefix": args.prefix, "preset": args.preset,
        "to": args.to, "source": args.source, "domains": args.domain,
        "terms": _structured(args.terms, value, "--terms"), "memory": _structured(args.memory, value, "--memory"),
        "ocr": args.ocr, "ocr_schema": _structured(args.fields, value, "--fields"),
    }
    return {k: v for k, v in options.items() if v is not None}
