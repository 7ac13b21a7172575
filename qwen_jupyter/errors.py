"""The documented path of the package's errors: QwenError, Interrupted and redact() live in core/errors.py."""

from .core.errors import Interrupted, QwenError, redact

__all__ = ["Interrupted", "QwenError", "redact"]
