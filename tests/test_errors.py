"""QwenError: what is retried, what a person reads, and that it survives pickling (for kernels and stores)."""

from __future__ import annotations

import pickle

import pytest

from qwen_jupyter.core.errors import QwenError, redact, remember_secret


@pytest.mark.parametrize(("status", "code", "retryable"), [
    (429, "Throttling.RateQuota", True),
    (429, "limit_requests", True),
    (500, "InternalError", True),
    (503, "ModelUnavailable", True),
    (None, "ConnectionError", True),
    (None, "Timeout", True),
    (400, "Throttling.RateQuota", True),  # the dashscope SDK reports in-stream errors as 400
    (400, "DataInspectionFailed", False),
    (400, "Arrearage", False),
    (400, "InvalidParameter", False),
    (401, "InvalidApiKey", False),
    (403, "AccessDenied", False),
    (404, "ModelNotFound", False),
    (None, "IncompleteStream", False),
])
def test_retryable(status, code, retryable):
    assert QwenError("x", code=code, status=status).retryable is retryable


def test_summary_is_one_line_with_code_and_hint():
    error = QwenError("Input data may contain inappropriate content.", code="DataInspectionFailed", status=400)
    assert str(error) == ("400 DataInspectionFailed: Input data may contain inappropriate content. The content "
                          "moderation refused this input or output; rephrase it (retrying the same text fails again).")
    assert "\n" not in str(error)


def test_pickles_with_all_fields():
    error = QwenError("slow down", code="Throttling", status=429, request_id="r1", retry_after=2.0)
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.status, copy.request_id, copy.retry_after) == ("Throttling", 429, "r1", 2.0)


def test_redact_removes_the_key():
    remember_secret("sk-abcdef123")
    assert redact("bad key sk-abcdef123 given") == "bad key sk-*** given"
