"""QwenError: the one exception type of the package, with Model Studio's code and a hint for a person."""

from __future__ import annotations

import re
import threading
import traceback

from .text import printable

# Model Studio codes (native and compatible-mode spellings) that are worth another try after a pause.
_RETRYABLE_CODES = (
    "Throttling",
    "limit_requests",
    "limit_burst_rate",
    "InternalError",
    "internal_error",
    "SystemError",
    "ModelServiceFailed",
    "ModelServingError",
    "ModelUnavailable",
    "RequestTimeOut",
    "ConnectionError",
    "Timeout",
)

_HINTS = {
    "InvalidApiKey": "Check DASHSCOPE_API_KEY (or run %qwen login); keys are bound to the region they were made in.",
    "invalid_api_key": "Check DASHSCOPE_API_KEY (or run %qwen login); keys are bound to the region they were made in.",
    "NoApiKey": "Set DASHSCOPE_API_KEY, run %qwen login, or use the offline emulator (%qwen offline on).",
    "DataInspectionFailed": "The content moderation refused this input or output; rephrase it (retrying the same text fails again).",
    "data_inspection_failed": "The content moderation refused this input or output; rephrase it (retrying the same text fails again).",
    "Arrearage": "The Model Studio account has an overdue payment; settle it in the console.",
    "Throttling": "You hit a rate or quota limit; wait a little or lower the request rate.",
    "limit_requests": "You hit a rate or quota limit; wait a little or lower the request rate.",
    "insufficient_quota": "The quota for this model is used up.",
    "ModelNotFound": "Check the model name and that your account (and region) can use it.",
    "model_not_found": "Check the model name and that your account (and region) can use it.",
    "model_not_supported": "This model is not offered on this API; try --api dashscope.",
    "AccessDenied": "Your key has no access to this model or workspace.",
    "access_denied": "Your key has no access to this model or workspace.",
    "ConnectionError": "The service could not be reached; check the network, the region and base_url.",
    "Timeout": "The request took longer than the timeout; raise QwenMagics.timeout or retry.",
    "IncompleteStream": "The connection ended before the model finished; the partial answer is kept.",
    "Stalled": "The service stopped sending mid-answer; the partial answer is kept. Ask again.",
    "Interrupted": "Stopped by you; the partial answer is kept.",
    "Redirect": "Model Studio does not redirect: check base_url (https://…) and QwenMagics.region.",
}


# Codes the toolkit itself uses for bad input: the message says it all, so no "CODE:" prefix is shown.
LOCAL_CODES = {"InvalidInput", "InvalidOption", "UndefinedName", "BadExpression", "BadTemplate", "NoApiKey"}


_REDACTED_FIELDS = {"message", "code", "request_id", "hint"}


class QwenError(Exception):
    """A failure talking to Model Studio (or a bad input), explained in one sentence; it never holds a key."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        hint: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(printable(redact(message)))
        self.message = message
        self.code = code
        self.status = status
        self.request_id = request_id
        self.hint = hint if hint is not None else _hint_for(code)
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether another attempt may succeed: rate limits, server errors and lost connections."""
        if self.status in (400, 401, 403, 404) and not _matches(self.code, ("Throttling",)):
            # The dashscope SDK reports in-stream errors as 400 whatever the real status, so trust a throttle code.
            return False
        return self.status in (429, 500, 502, 503, 504) or _matches(self.code, _RETRYABLE_CODES)

    def summary(self) -> str:
        """One line for a person: status and code, the message, then the hint."""
        code = None if self.code in LOCAL_CODES else self.code
        head = " ".join(str(p) for p in (self.status, code) if p)
        text = f"{head}: {self.message}" if head else self.message
        text = f"{text} {self.hint}" if self.hint else text
        return " ".join(text.split()) if "\n" in text else text  # one line, whatever a server wrote

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"QwenError(code={self.code!r}, status={self.status!r}, message={self.message!r})"

    def __setattr__(self, name: str, value: object) -> None:
        # Every field a server can fill, on every assignment: a key it echoes back is never kept.
        if name in _REDACTED_FIELDS and isinstance(value, str):
            value = printable(redact(value))  # nor a terminal escape it sends (OSC 52, CSI 2J, …)
        super().__setattr__(name, value)

    def detached(self) -> QwenError:
        """This error without its cause, context and traceback: the SDK objects there may hold the key."""
        self.__cause__ = self.__context__ = None
        self.__suppress_context__ = True
        return self.with_traceback(None)

    def __reduce__(self):
        kwargs = {k: getattr(self, k) for k in ("code", "status", "request_id", "hint", "retry_after")}
        return (_rebuild, (self.message, kwargs))

    result = None  # the QwenResult whose answer failed, when raised by its wait() or iteration (partial answer kept)
    brief = True  # IPython shows one line (no traceback from library internals); --debug sets it False

    def _render_traceback_(self) -> list[str]:
        """What IPython shows when a cell ends in this error: one line, or the traceback when debugging."""
        if self.brief:
            return [f"\x1b[0;31mQwenError\x1b[0m: {self.summary()}"]
        return [redact(line) for line in traceback.format_exception(self)]


class Shown(BaseException):
    """A failed answer that a cell displayed (chat() as its last expression): raised past IPython's display
    formatter, which would catch an Exception, print it and let the cell pass, so the cell ends in error with the
    QwenError's one line and Run All, nbconvert and papermill stop."""

    def __init__(self, error: QwenError) -> None:
        super().__init__(error.summary())
        self.error = error

    def _render_traceback_(self) -> list[str]:
        return self.error._render_traceback_()


class Interrupted(KeyboardInterrupt):
    """The person stopped an answer: the cell ends here, in one line, with the partial answer kept."""

    def __init__(self, message: str = "The answer was stopped; the partial answer is kept (in _qwen).") -> None:
        super().__init__(message)

    def _render_traceback_(self) -> list[str]:
        return [f"\x1b[0;31mInterrupted\x1b[0m: {self.args[0]}"]


def _rebuild(message: str, kwargs: dict) -> QwenError:
    return QwenError(message, **kwargs)


def _matches(code: str | None, prefixes: tuple[str, ...]) -> bool:
    return bool(code) and any(code == p or code.startswith(p + ".") for p in prefixes)


def _hint_for(code: str | None) -> str | None:
    if not code:
        return None
    return _HINTS.get(code) or _HINTS.get(code.split(".")[0])


# Every key this process has used (environment, %qwen login, api_key=): redact() removes any of them.
_secrets: set[str] = set()
_secrets_lock = threading.Lock()
_patterns: tuple[re.Pattern[str], re.Pattern[str]] | None = None
MIN_SECRET, MIN_PARTIAL = 8, 8  # shorter "keys" (sk-x) are placeholders; a run of 8 key characters is a leak
EMULATOR_KEY = "sk-emulator"  # the emulator's documented stand-in key: public, so never redacted
_MASK_CHARS = "*x•.…"  # what masked forms put between a key's prefix and suffix: sk-ab****cd, sk-ab…cd
_MASK = r"(?:[*x•.]{2,}|…+)"


def remember_secret(secret: str) -> None:
    """Redact this key (and its masked and partial forms) from everything shown or stored from now on."""
    global _patterns
    if len(secret) < MIN_SECRET or secret == EMULATOR_KEY:
        return
    with _secrets_lock:
        if secret not in _secrets:
            _secrets.add(secret)
            _patterns = _compile(_secrets)


def _trie(words: list[tuple[str, int]]) -> str:
    """A regex matching the longest of `words` (each accepted from its given length on), without backtracking
    through alternatives: a trie, so a scan of 10 MB costs a few character tests per position."""
    root: dict = {}
    for word, shortest in words:
        node = root
        for depth, char in enumerate(word, 1):
            node = node.setdefault(char, {})
            if depth >= shortest:
                node[""] = {}
    return _node_regex(root)


def _node_regex(node: dict) -> str:
    branches = [re.escape(char) + _node_regex(child) for char, child in sorted(node.items()) if char]
    body = branches[0] if len(branches) == 1 else f"(?:{'|'.join(branches)})" if branches else ""
    return f"(?:{body})?" if "" in node and body else body


def _compile(secrets: set[str]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Two regexes: runs of 8 or more characters that a key or its mask can contain (one fast scan in C), and
    the forms of the keys, looked for only inside those runs."""
    keys = sorted(secrets)
    prefixes = _trie([(key, 3) for key in keys])
    suffixes = _trie([(key[i:], len(key) - i) for key in keys for i in range(len(key) - 2)])
    partial = _trie([(key[i:], MIN_PARTIAL) for key in keys for i in range(len(key) - MIN_PARTIAL + 1)])
    alphabet = "".join(re.escape(c) for c in sorted(set("".join(keys)) | set(_MASK_CHARS)))
    return re.compile(f"[{alphabet}]{{8,}}"), re.compile(f"{prefixes}{_MASK}{suffixes}|{partial}")


def redact(text: str) -> str:
    """Text without any key this process used: whole, masked (sk-ab****cd) or in part (8 or more characters)."""
    patterns = _patterns
    if patterns is None or not text:
        return text
    runs, forms = patterns
    return runs.sub(lambda run: forms.sub("sk-***", run.group()), text)


for _public in (QwenError, Interrupted, Shown):
    _public.__module__ = "qwen_jupyter"  # what a traceback names: the package's public path, not where it is kept
