"""Errors the emulator answers with, in the shapes of Model Studio's error-code page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class ApiError(Exception):
    """An error response: status, native code, compatible-mode code and type, message."""

    status: int
    code: str
    message: str
    compat_code: str | None = None
    compat_type: str = "invalid_request_error"
    retry_after: float | None = None


def compat_error_body(error: ApiError, context: Any) -> dict[str, Any]:
    """A compatible-mode error body: request_id beside error, not inside it."""
    return {
        "error": {"message": error.message, "type": error.compat_type, "param": None,
                  "code": error.compat_code or error.code},
        "id": f"chatcmpl-{context.request_id}",
        "request_id": context.request_id,
    }


def invalid(message: str) -> ApiError:
    """The documented 400 for a request the service would reject."""
    return ApiError(400, "InvalidParameter", message, "invalid_parameter_error")


FAULT_ERRORS = {
    "401": ApiError(401, "InvalidApiKey", "Invalid API-key provided.", "invalid_api_key"),
    "403": ApiError(403, "AccessDenied", "Access denied.", "access_denied"),
    "404": ApiError(404, "ModelNotFound", "The model does not exist or you do not have access to it.",
                    "model_not_found"),
    "429": ApiError(429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.",
                    "limit_requests", "limit_requests"),
    "500": ApiError(500, "InternalError", "An internal error has occured, try again later.", "internal_error",
                    "internal_error"),
    "503": ApiError(503, "ModelUnavailable", "Model is unavailable, try again later.", "model_unavailable",
                    "internal_error"),
    "moderation": ApiError(400, "DataInspectionFailed", "Input data may contain inappropriate content.",
                           "data_inspection_failed", "data_inspection_failed"),
    "arrearage": ApiError(400, "Arrearage", "Access denied, please make sure your account is in good standing.",
                          "Arrearage", "Arrearage"),
    "bad-request": invalid("The request is invalid (emulated fault)."),
}
