"""A question with a fixed set of answers (classify()'s labels, filter()'s yes or no): the instruction every row
shares, the strict reading of an answer, and the model's confidence in it.

Confidence from log probabilities (Chat Completions, `logprobs: true, top_logprobs: 5`). The answer is the label
alone, so the tokens that spell the label are the model's choice. The confidence is the product, over those
tokens, of each token's probability, where a token's probability also counts the alternatives at its place that
spell the same text up to case and surrounding spaces ("Positive", " positive" beside "positive"): the
probability that the model writes this label, token by token, whatever the case. Other spellings that split the
label differently are not counted (the service returns the alternatives of the path it took, not of every
path), so it is a lower bound; with one-token labels (most labels) it is exact up to the five alternatives
returned. Tokens before or after the label (spaces, a final full stop) do not count.

Without log probabilities (the Batch API never returns them; some models do not) the confidence is the agreement
of two samples: the answer stands if a second request (the same, with a seed) gives the same label, and the
confidence is the share of the two that gave it: 1.0 or 0.5. That is not a probability, and the run says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from ..core.errors import QwenError

YES, NO = "yes", "no"
SECOND_SAMPLE_SEED = 2  # the seed of the second sample, when the confidence is two samples' agreement
TOP = 5  # alternatives a token: the most Model Studio returns
_TRIM = " \t\r\n\"'`*."  # what may surround an answer: spaces, quotes, Markdown emphasis, a final full stop


def labels_of(labels: Any) -> list[str]:
    """The labels as a list of distinct, non-empty strings (a comma-separated string is split); a clear error
    otherwise."""
    if isinstance(labels, str):
        labels = [part for part in labels.split(",")]
    if not isinstance(labels, (list, tuple)) or not all(isinstance(label, str) for label in labels):
        raise QwenError("labels= takes a list of strings (or 'a,b,c').", code="InvalidInput", hint="")
    found = [label.strip() for label in labels]
    if any(not label or "\n" in label for label in found):
        raise QwenError("A label is empty or spans lines; give each label as a short text.", code="InvalidInput",
                        hint="")
    if len(found) < 2:
        raise QwenError("classify() needs at least two labels to choose from.", code="InvalidInput", hint="")
    seen: dict[str, str] = {}
    for label in found:
        if _norm(label) in seen:
            raise QwenError(f"The labels {seen[_norm(label)]!r} and {label!r} are the same up to case; give "
                            "distinct labels.", code="InvalidInput", hint="")
        seen[_norm(label)] = label
    return found


def instruction(labels: Sequence[str], question: bool = False) -> str:
    """The system message every row shares: the answer is one of the labels, alone (the list as JSON, so a
    label with a comma stays one label)."""
    listed = json.dumps(list(labels), ensure_ascii=False)
    if question:
        return ("Answer the user's question about the text it gives with exactly one of these words, as written, "
                f"and nothing else (no explanation, no punctuation): {listed}")
    return ("Classify the text the user gives. Answer with exactly one of these labels, as written, and nothing "
            f"else (no explanation, no punctuation): {listed}")


def _norm(text: str) -> str:
    return text.strip(_TRIM).casefold()


def parse(answer: str, labels: Sequence[str]) -> str:
    """The label an answer is: the whole answer, without surrounding spaces, quotes or a final full stop, equal
    to one label up to case. Anything else (a sentence, two labels, a label not offered) raises ValueError."""
    wanted = _norm(answer or "")
    for label in labels:
        if _norm(label) == wanted:
            return label
    shown = " ".join((answer or "").split())
    shown = shown if len(shown) <= 60 else shown[:59] + "…"
    raise ValueError(f"The answer {shown!r} is not one of the labels ({', '.join(labels)}).")


def confidence(answer: str, tokens: Sequence[Sequence[Any]] | None) -> float | None:
    """The probability the model gave its answer's label, from the answer's tokens ([token, logprob,
    [[alternative, logprob], …]] as map() stores them); None when there are none or they do not spell the
    answer."""
    if not tokens or "".join(str(t[0]) for t in tokens) != answer:
        return None
    core = answer.strip(_TRIM)
    start = answer.find(core) if core else 0
    end = start + len(core)
    product, at = 1.0, 0
    for token, logprob, top in tokens:
        here, at = at, at + len(token)
        if at <= start or here >= end or not token.strip(_TRIM):
            continue  # around the label, or only spaces and punctuation
        spelled = _norm(token)
        choices = {str(alternative): float(lp) for alternative, lp in top}
        choices[token] = float(logprob)
        product *= min(1.0, sum(math.exp(lp) for text, lp in choices.items() if _norm(text) == spelled))
    return product


def agreement(first: str, second: str) -> float:
    """Two samples' agreement on the first one's label: the share of the two that gave it."""
    return 1.0 if first == second else 0.5
