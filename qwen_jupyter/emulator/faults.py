"""Fault specs: what to break in a reply, from a header, a model-name suffix or Emulator.inject().

A spec is comma-separated `name` or `name=value` items, e.g. `429,retry-after=2` or `drop=5,slow=0.01`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

HEADER = "X-Qwen-Emulator-Fault"
MODEL_SEPARATOR = "~"  # "qwen-plus~drop=5": the emulator strips the suffix and answers as qwen-plus

STATUS_FAULTS = {
    "401": 401, "403": 403, "404": 404, "429": 429, "500": 500, "503": 503,
    "moderation": 400, "arrearage": 400, "bad-request": 400,
}


@dataclass
class Fault:
    """What to do differently; the defaults answer normally."""

    status: str | None = None        # one of STATUS_FAULTS: answer with that error instead
    retry_after: float | None = None  # Retry-After seconds on a 429
    every: int | None = None         # the error only on every Nth request of those that carry this spec
    drop: int | None = None          # close the connection after this many content chunks
    stall: int | None = None         # stop sending (but keep the connection) after this many chunks
    stall_seconds: float = 30.0
    malformed: int | None = None     # send an unparsable chunk at this position
    error_at: int | None = None      # an in-stream error frame after this many chunks
    slow: float = 0.0                # seconds between chunks
    delay: float = 0.0               # seconds before answering at all (latency), streamed or not
    long: int | None = None          # answer with this many characters
    chunk: int | None = None         # characters per chunk
    echo: bool = False               # answer (and reason, name sources, fail) with the prompt's own text
    echo_code: bool = False          # an error's code is the prompt's text (a server reflecting what it got)
    echo_args: bool = False          # a tool call's arguments are the prompt's text as sent (a spoofed approval)
    redirect: int | None = None      # answer with this 3xx status, pointing back at the same URL
    task_fail: bool = False          # an image task ends FAILED
    task_stuck: bool = False         # an image task stays PENDING (a full queue) until cancelled
    bad_args: bool = False           # tool-call arguments that are not JSON
    tool_loop: bool = False          # call a tool again after every tool result (never answer)
    unsure: float | None = None      # the share of rows a fixed-choice answer is unsure on (choices.py)
    no_logprobs: bool = False        # answer without token log probabilities, even when asked

    @property
    def any(self) -> bool:
        return self != Fault()


_ALIASES = {"retry-after": "retry_after", "stall-seconds": "stall_seconds", "error-at": "error_at",
            "midstream-error": "error_at"}
_INTS = {"drop", "stall", "malformed", "error_at", "long", "chunk", "redirect", "every"}
_FLOATS = {"retry_after", "stall_seconds", "slow", "delay", "unsure"}
_FLAGS = {"echo", "echo_code", "echo_args", "bad_args", "tool_loop", "task_fail", "task_stuck", "no_logprobs"}


def parse(spec: str | None, into: Fault | None = None) -> Fault:
    """A Fault from a spec string (unknown items raise ValueError, so typos are loud)."""
    fault = into or Fault()
    for item in filter(None, (part.strip() for part in (spec or "").split(","))):
        name, _, value = item.partition("=")
        name = _ALIASES.get(name, name.replace("-", "_"))
        if name in STATUS_FAULTS or name.replace("_", "-") in STATUS_FAULTS:
            fault.status = name.replace("_", "-")
        elif name in _INTS:
            setattr(fault, name, int(value or 0))
        elif name in _FLOATS:
            setattr(fault, name, float(value or 0))
        elif name in _FLAGS:
            setattr(fault, name, True)
        else:
            known = sorted({f.name for f in fields(Fault)} | set(STATUS_FAULTS))
            raise ValueError(f"unknown emulator fault {item!r}; known: {', '.join(known)}")
    return fault


def split_model(model: str) -> tuple[str, str]:
    """('qwen-plus', 'drop=5') from 'qwen-plus~drop=5'."""
    name, _, spec = model.partition(MODEL_SEPARATOR)
    return name, spec
