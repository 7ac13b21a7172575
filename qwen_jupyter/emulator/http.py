"""What every emulator response shares: the header that marks it emulated, and the key check."""

from __future__ import annotations

from aiohttp import web

EMULATOR_HEADER = "X-Qwen-Emulator"  # every response carries it: the toolkit labels such answers "emulated"
VERSION = "1"


def response_headers(request_id: str) -> dict[str, str]:
    """Headers on every answer: the request id and the emulator mark."""
    return {"x-request-id": request_id, EMULATOR_HEADER: VERSION}


def authorized(request: web.Request) -> bool:
    """Any non-empty `Bearer sk-…` key is accepted, as a stand-in for the service's key check."""
    auth = request.headers.get("Authorization", "")
    return auth.startswith("Bearer sk-") and len(auth) > len("Bearer sk-")
