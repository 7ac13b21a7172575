"""What the emulator does for the specialised capabilities on the chat routes: token log probabilities in each
API's shape, and prefix continuation (a partial assistant turn: the answer is only the continuation).

Parsers call `take()` with the request's options and messages; it returns the messages without a partial turn and
the options the Conversation keeps; `shape()` changes the planned reply; writers ask `*_logprobs()` per piece.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from .errors import invalid
from .replies import Conversation, Reply, count_tokens

FILE_PREFIX = "fileid://"
OCR_TASKS = ("text_recognition", "advanced_recognition", "key_information_extraction", "table_parsing",
             "document_parsing", "formula_recognition", "multi_lan")

_TOKEN = re.compile(r"[\w']+\s*|[^\w\s]\s*|\s+")
_ALTERNATIVES = ("the ", "a ", "and ", "of ", "this ", "is ", "to ", "in ", "it ", "that ", "an ", "as ", "we ",
                 "model ", "one ", "so ", "but ", "by ", "for ", "with ", ", ", ". ", "I ", "my ")


def take(model: str, options: dict[str, Any], messages: list[Any]) -> tuple[list[Any], dict[str, Any]]:
    """The messages without a trailing partial assistant turn, and what the Conversation keeps of the options
    (checked as the service checks them)."""
    kept: dict[str, Any] = {}
    last = messages[-1] if messages else None
    if isinstance(last, dict) and last.get("role") == "assistant" and last.get("partial"):
        content = last.get("content")
        if isinstance(content, list):
            content = "".join(item.get("text", "") for item in content if isinstance(item, dict))
        if options.get("enable_thinking"):
            raise invalid("Partial mode is not supported when enable_thinking is true.")
        kept["prefix"] = str(content or "")
        messages = messages[:-1]
    if options.get("logprobs"):
        top = options.get("top_logprobs") or 0
        if not isinstance(top, int) or not 0 <= top <= 5:
            raise invalid("top_logprobs should be in [0, 5].")
        kept["top_logprobs"] = top
    if model.startswith("qwen-mt"):
        kept["translation"] = _translation(options.get("translation_options"), messages)
    if options.get("ocr_options") is not None:
        kept["ocr"] = _ocr(model, options["ocr_options"], messages)
    return messages, kept


def _translation(options: Any, messages: list[Any]) -> dict[str, Any]:
    """Qwen-MT's rules: one user message, nothing else; translation_options with a target language."""
    if len(messages) != 1 or not isinstance(messages[0], dict) or messages[0].get("role") != "user":
        raise invalid("Qwen-MT takes exactly one user message (no system message, no history).")
    if not isinstance(options, dict) or not options.get("target_lang"):
        raise invalid("translation_options.target_lang is required for Qwen-MT models.")
    for key in ("terms", "tm_list"):
        items = options.get(key) or []
        if not isinstance(items, list) or any(not isinstance(i, dict) or {"source", "target"} - set(i)
                                               for i in items):
            raise invalid(f"translation_options.{key} must be a list of {{\"source\", \"target\"}} objects.")
    return options


def _ocr(model: str, options: Any, messages: list[Any]) -> dict[str, Any]:
    content = messages[-1].get("content") if messages and isinstance(messages[-1], dict) else None
    if not isinstance(content, list) or not any(isinstance(i, dict) and ("image" in i or "image_url" in i)
                                                for i in content):
        raise invalid("The OCR model needs an image in the user message.")
    if not isinstance(options, dict) or options.get("task") not in OCR_TASKS:
        raise invalid(f"ocr_options.task must be one of {', '.join(OCR_TASKS)}.")
    if "ocr" not in model or model.endswith("2024-10-28"):
        raise invalid(f"The model {model} does not support built-in OCR tasks (ocr_options).")
    return options


def attach_files(conversation: Conversation, state: Any) -> None:
    """Read the documents that `fileid://` system messages name (qwen-long): unknown, unparsed or batch files
    are refused as the service refuses them; the documents' text goes into the conversation's options."""
    from .files import current

    documents = []
    for turn in conversation.turns:
        if turn.role != "system" or not turn.text.lstrip().startswith(FILE_PREFIX):
            continue
        for reference in turn.text.split(","):
            file_id = reference.strip().removeprefix(FILE_PREFIX)
            stored = state.files.get(file_id)
            if not reference.strip().startswith(FILE_PREFIX) or stored is None:
                raise invalid(f"File [{file_id}] does not exist or you do not have access to it; check the id "
                              "and upload it with purpose file-extract.")
            found = current(state, stored)
            if found["purpose"] != "file-extract":
                raise invalid(f"File [{file_id}] was uploaded for {found['purpose']}, not file-extract.")
            if found["status"] != "processed":
                raise invalid(f"File [{file_id}] is not ready (status {found['status']}): its parsing has "
                              f"{'failed' if found['status'] == 'error' else 'not finished'}.")
            text = stored["data"].decode("utf-8", errors="replace") if found["filename"].lower().endswith(
                (".txt", ".md", ".csv", ".json")) else f"[{found['bytes']} bytes of {found['filename']}]"
            documents.append((found["filename"], text))
        turn.text = ""  # the documents are context, not the system prompt
    if documents:
        conversation.options["documents"] = documents


def shape(conversation: Conversation, reply: Reply) -> None:
    """Change the planned reply for the options: a continuation when a prefix was given, a translation, an OCR
    task's output."""
    if "translation" in conversation.options:
        reply.text = translate(conversation.turns[-1].text, conversation.options["translation"])
    if "ocr" in conversation.options:
        reply.text, ocr_result = ocr_output(conversation.options["ocr"])
        reply.extra = {"ocr_result": ocr_result} if ocr_result else {}
    documents = conversation.options.get("documents")
    if documents and not reply.tool_calls:
        reply.input_tokens += sum(count_tokens(text) for _, text in documents)
        read = "; ".join(f"{name} ({len(text):,} characters), which begins \"{' '.join(text.split()[:8])}\""
                         for name, text in documents)
        question = " ".join(conversation.turns[-1].text.split())
        reply.text = (f"**[emulated {conversation.model}]** I read {len(documents)} document"
                      f"{'s' * (len(documents) != 1)}: {read}.\n\nYou asked: \"{question}\"")
    prefix = conversation.options.get("prefix")
    if prefix is not None and not reply.tool_calls:
        reply.text = (" woke slowly, and the emulator carried the sentence on from where you left it"
                      f" ({len(prefix)} characters in).")


def _seed(*parts: str) -> float:
    return int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:8], 16) / 2**32


def _tokens(conversation: Conversation, text: str) -> list[tuple[str, float, list[tuple[str, float]]]]:
    top = conversation.options.get("top_logprobs")
    choice = conversation.options.get("choice")
    if choice is not None:  # a fixed-choice answer's own tokens (choices.py), taken in order as pieces are written
        taken, chosen = 0, []
        while choice and taken < len(text):
            token, logprob, alternatives = choice.pop(0)
            chosen.append((token, logprob, alternatives[:top or 0]))
            taken += len(token)
        return chosen
    out = []
    for token in _TOKEN.findall(text):
        chance = 0.35 + 0.65 * (1 - _seed(conversation.model, token) ** 3)  # mostly sure, sometimes not
        alternatives = [(token, math.log(chance))]
        start = int(_seed("alternatives", token) * len(_ALTERNATIVES))
        words = [w for w in _ALTERNATIVES[start:] + _ALTERNATIVES[:start] if w.strip() != token.strip()]
        rest = 1 - chance
        for i, word in enumerate(words[:max(0, (top or 0) - 1)]):
            alternatives.append((word, math.log(rest * 0.6 * 0.4 ** i)))
        out.append((token, math.log(chance), sorted(alternatives, key=lambda a: -a[1])[:top or 0]))
    return out


def _wire(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "bytes": list(token.encode()), "logprob": round(logprob, 6)}


def content_logprobs(conversation: Conversation, text: str) -> dict[str, Any] | None:
    """Chat Completions and native: {"content": [token, …]} for this text, or None when not asked."""
    if "top_logprobs" not in conversation.options or not text:
        return None
    return {"content": [{**_wire(token, lp), "top_logprobs": [_wire(t, p) for t, p in top]}
                        for token, lp, top in _tokens(conversation, text)]}


def responses_logprobs(conversation: Conversation, text: str) -> list[dict[str, Any]]:
    """The Responses API: a list of tokens ([] when not asked)."""
    found = content_logprobs(conversation, text)
    return [{"token": e["token"], "logprob": e["logprob"], "bytes": e["bytes"],
             "top_logprobs": [{"token": t["token"], "logprob": t["logprob"], "bytes": t["bytes"]}
                              for t in e["top_logprobs"]]}
            for e in (found or {}).get("content", [])]


def translate(text: str, options: dict[str, Any]) -> str:
    """An emulated translation: a translation-memory match verbatim, else the text with its terms replaced,
    labelled with the target language."""
    for pair in options.get("tm_list") or ():
        if text.strip() == pair["source"].strip():
            return pair["target"]
    for term in options.get("terms") or ():
        text = text.replace(term["source"], term["target"])
    return f"[{options['target_lang']}, emulated] {text}"


def _fields(schema: Any) -> Any:
    """Key information filled from a result schema (nested objects kept), or a fixed receipt."""
    if isinstance(schema, dict):
        return {str(k): _fields(v) if isinstance(v, dict) else f"emulated {k}" for k, v in schema.items()}
    return {"invoice_number": "10283819", "date": "2013-06-29", "total": "24.00"}


def ocr_output(options: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """An OCR task's text and its ocr_result (what message.content[0] carries besides the text)."""
    task = options["task"]
    if task == "table_parsing":
        rows = [("Item", "Qty", "Price"), ("Apples", "3", "1.20"), ("Pears", "2", "0.90")]
        table = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
        return f"```html\n<table>{table}</table>\n```", {}
    if task == "key_information_extraction":
        values = _fields((options.get("task_config") or {}).get("result_schema"))
        return f"```json\n{json.dumps(values, ensure_ascii=False, indent=2)}\n```", {"kv_result": values}
    if task == "formula_recognition":
        return "$$\n\\int_0^1 x^2 \\, dx = \\frac{1}{3}\n$$", {}
    if task == "document_parsing":
        return "\\section{Emulated document}\nThe emulator read a page with one formula: $E = mc^2$.", {}
    if task == "advanced_recognition":
        words = [{"text": "Emulated", "location": [10, 10, 90, 10, 90, 30, 10, 30], "rotate_rect": [50, 20, 80, 20, 0]},
                 {"text": "receipt", "location": [100, 10, 170, 10, 170, 30, 100, 30],
                  "rotate_rect": [135, 20, 70, 20, 0]}]
        boxes = [{"text": w["text"], "rotate_rect": w["rotate_rect"]} for w in words]
        return f"```json\n{json.dumps(boxes)}\n```", {"words_info": words}
    return "Emulated OCR text: the words in the image would appear here, line by line.", {}
