"""Questions with a fixed set of answers (a system message asking for "exactly one of these labels: [...]", as
classify() and filter() send): the emulator answers with one label alone, deterministically, with token log
probabilities that are plausible and vary by row.

Which label: one the text names (a topic label it mentions), else one its sentiment points to (a small word
list), else one picked by the text's hash. How sure: each row is easy or hard by its text's hash, the same for
every model, so the rows hard for a strong model are hard for a cheap one too; a model is unsure on the hard
rows, which are a share of them that depends on the model (SHARES: flash and turbo more than plus, plus more than
max) or, exactly, on the `unsure=SHARE` fault (`qwen-flash~unsure=0.3`). On a sure row the label's probability is
0.94 to 0.995; on an unsure one 0.45 to 0.75, and a cheap model picks the runner-up label on about half of those.
`unsure(text, share)` says which rows are unsure, for tests and benchmarks.

The probabilities: the answer's tokens each carry a log probability and the top alternatives: where the chosen
label's tokens part from the runner-up's, the chosen token has most of the label's probability (98%), its other
case the rest (so a reader must add spellings up), and the runner-up's token (1 - p) * 0.7; elsewhere each
token is all but certain. With a `seed` the answer is sampled (the runner-up with probability 1 - p); without
one it is the most likely label. (The `no-logprobs` fault, server.py, answers without log probabilities.)
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from .replies import Conversation, Reply
from .specialised import _ALTERNATIVES, _TOKEN

_ASKED = re.compile(r"exactly one of these (?:labels|words)[^:\n]*:\s*(\[.*\])\s*$", re.DOTALL)
SHARES = (("flash", 0.25), ("turbo", 0.25), ("plus", 0.10), ("max", 0.03))  # hard rows a model is unsure on
DEFAULT_SHARE = 0.10
POSITIVE = frozenset({"love", "loved", "great", "excellent", "good", "perfect", "happy", "amazing", "fantastic",
                      "recommend", "best", "wonderful", "nice", "fast", "works", "delighted", "superb", "pleased"})
NEGATIVE = frozenset({"bad", "terrible", "awful", "broken", "hate", "refund", "poor", "worst", "disappointed",
                      "disappointing", "slow", "late", "never", "waste", "cold", "rude", "missing", "damaged",
                      "useless"})
_UPBEAT = ("pos", "good", "happy", "praise", "like")
_DOWNBEAT = ("neg", "bad", "complain", "unhappy", "problem", "angry")
_PLAIN = frozenset({"does", "this", "that", "review", "text", "about", "with", "what", "which", "there", "from",
                    "have", "they", "them", "their", "product", "mention", "mentions", "said", "says", "anything",
                    "something", "customer", "buyer", "writer", "author", "talk", "talks"})


def _seed(*parts: Any) -> float:
    return int(hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:8], 16) / 2**32


def asked(conversation: Conversation) -> list[str] | None:
    """The labels a system message asks the answer to be one of, or None."""
    for turn in conversation.turns:
        found = _ASKED.search(turn.text) if turn.role == "system" else None
        if found:
            try:
                labels = json.loads(found.group(1))
            except ValueError:
                return None
            if isinstance(labels, list) and len(labels) >= 2 and all(isinstance(x, str) for x in labels):
                return labels
    return None


def share_of(model: str) -> float:
    """The share of rows a model is unsure on, by its tier (flash, turbo, plus, max)."""
    name = model.lower()
    return next((share for word, share in SHARES if word in name), DEFAULT_SHARE)


def unsure(text: str, share: float) -> bool:
    """Whether a row (the user's message) is among the hard ones a model with this share is unsure on."""
    return _seed("hard", text) < share


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z']+", text.lower()))


def _yes(text: str) -> bool:
    """A yes-or-no question about a text (the question up to its "?", the text after): yes when the text names
    what the question asks about (a word of four letters or more, by its first five), else, for a question only
    about mood ("is it negative?"), when the text's mood matches; else by the hash."""
    question, mark, rest = text.partition("?")
    asked, said = (_words(question), _words(rest)) if mark and rest.strip() else (set(), _words(text))
    mood = len(said & POSITIVE) - len(said & NEGATIVE)
    moods = {w for w in asked if w.startswith(_UPBEAT + _DOWNBEAT)}
    topics = {w[:5] for w in asked - moods - _PLAIN if len(w) >= 4}
    if topics:
        return bool(topics & {w[:5] for w in said})
    if moods:
        return mood < 0 if any(w.startswith(_DOWNBEAT) for w in moods) else mood > 0
    return _seed("yes", text) < 0.4


def _ranked(labels: list[str], text: str) -> list[str]:
    """The labels, the one the text points to first, the runner-up second."""
    mood = len(_words(text) & POSITIVE) - len(_words(text) & NEGATIVE)
    if sorted(label.lower() for label in labels) == ["no", "yes"]:
        yes = _yes(text)
        return sorted(labels, key=lambda label: (label.lower() == "yes") != yes)
    scores = []
    for label in labels:
        name = label.lower()
        score = 3.0 if len(name) > 2 and re.search(rf"\b{re.escape(name)}", text.lower()) else 0.0
        if name.startswith(_UPBEAT):
            score += 2.0 * mood
        elif name.startswith(_DOWNBEAT):
            score -= 2.0 * mood
        elif name.startswith(("neutral", "mixed", "other")):
            score += 1.0 if mood == 0 else 0.0
        scores.append((score + _seed("order", text, label), label))
    return [label for _, label in sorted(scores, reverse=True)]


def _variant(token: str) -> str:
    other = token.lower() if token[:1].isupper() else token[:1].upper() + token[1:]
    return other if other != token else ""


def _tokens(answer: str, chance: float, other: str,
            other_chance: float) -> list[tuple[str, float, list[tuple[str, float]]]]:
    """The answer's tokens with log probabilities and alternatives: where it parts from `other`, `chance` for
    the answer (98% in its own case, 2% in the other) and `other_chance` for the other label's token; near
    certainty elsewhere."""
    mine, theirs = _TOKEN.findall(answer), _TOKEN.findall(other)
    parting = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b), len(mine) - 1)
    out = []
    for i, token in enumerate(mine):
        if i != parting:
            sure = 0.995 if i < parting else 0.998
            out.append((token, math.log(sure), [(token, math.log(sure))]))
            continue
        variant = _variant(token)
        top = [(token, math.log(chance * (0.98 if variant else 1.0)))]
        if variant:
            top.append((variant, math.log(chance * 0.02)))
        if i < len(theirs):
            top.append((theirs[i], math.log(other_chance)))
        start = int(_seed("filler", token) * len(_ALTERNATIVES))
        rest = [w for w in _ALTERNATIVES[start:] + _ALTERNATIVES[:start] if w not in dict(top)]
        spare = max(1e-6, 1 - chance - other_chance)
        top += [(w, math.log(spare * 0.3 * 0.5 ** n)) for n, w in enumerate(rest[:3])]
        out.append((token, top[0][1], sorted(top, key=lambda pair: -pair[1])))
    return out


def answer(conversation: Conversation, reply: Reply, share: float | None = None, seed: Any = None) -> None:
    """Answer a fixed-choice question with one label and its tokens' log probabilities (when they are asked
    for); anything else is left as planned. `share`: the rows unsure on (None: the model's own)."""
    labels = asked(conversation)
    if labels is None or reply.tool_calls or conversation.json_mode:
        return
    model, text = conversation.model, conversation.turns[-1].text
    ranked = _ranked(labels, text)
    hard = unsure(text, share_of(model) if share is None else share)
    chance = (0.45 + 0.30 * _seed("p", model, text)) if hard else (0.94 + 0.055 * _seed("p", model, text))
    top, runner = ranked[0], ranked[1]
    if hard and _seed("slip", model, text) < 0.5:  # unsure, and wrong about which label is likelier
        top, runner = runner, top
    second = (1 - chance) * 0.7  # the runner-up's probability
    chosen = top if seed is None or _seed("sample", model, text, seed) * (chance + second) < chance else runner
    reply.text = chosen
    if chosen == top:
        conversation.options["choice"] = _tokens(top, chance, runner, second)
    else:
        conversation.options["choice"] = _tokens(runner, second, top, chance)
