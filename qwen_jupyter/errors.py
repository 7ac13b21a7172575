"""The documented path of the package's errors: QwenError, Interrupted, Shown and redact() live in core/errors.py."""

from .core.errors import Interrupted, QwenError, Shown, redact

__all__ = ["Interrupted", "QwenError", "Shown", "redact"]
