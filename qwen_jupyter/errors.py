"""QwenError: the one exception type of the package, with Model Studio's code and a hint for a person."""

from __future__ import annotations

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
    "Interrupted": "Stopped by you; the partial answer is kept.",
}


# Codes the toolkit itself uses for bad input: the message says it all, so no "CODE:" prefix is shown.
LOCAL_CODES = {"InvalidInput", "InvalidOption", "UndefinedName", "BadExpression", "BadTemplate", "NoApiKey"}


class QwenError(Exception):
    """A failure talking to Model Studio (or a bad input), explained in one sentence."""

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
        super().__init__(message)
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
        return f"{text} {self.hint}" if self.hint else text

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return f"QwenError(code={self.code!r}, status={self.status!r}, message={self.message!r})"

    def __reduce__(self):
        kwargs = {k: getattr(self, k) for k in ("code", "status", "request_id", "hint", "retry_after")}
        return (_rebuild, (self.message, kwargs))


def _rebuild(message: str, kwargs: dict) -> QwenError:
    return QwenError(message, **kwargs)


def _matches(code: str | None, prefixes: tuple[str, ...]) -> bool:
    return bool(code) and any(code == p or code.startswith(p + ".") for p in prefixes)


def _hint_for(code: str | None) -> str | None:
    if not code:
        return None
    return _HINTS.get(code) or _HINTS.get(code.split(".")[0])


def redact(text: str, secret: str | None) -> str:
    """Remove a secret (the API key) from text that is about to be shown or stored."""
    if secret and len(secret) >= 6 and secret in text:
        return text.replace(secret, "sk-***")
    return text
