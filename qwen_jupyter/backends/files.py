"""The Files API for documents (purpose `file-extract`): upload and delete are shared with the Batch API
(completions.py); retrieve and list are here."""

from __future__ import annotations

from typing import Any

from ..core.settings import Settings
from ._openai_sdk import call
from .completions import delete_file, upload

__all__ = ["delete_file", "list_files", "retrieve_file", "upload"]


def retrieve_file(settings: Settings, file_id: str) -> dict[str, Any]:
    """A file object (its parsing status), as a dict."""
    return call(settings, lambda c: c.files.retrieve(file_id)).model_dump()


def list_files(settings: Settings, purpose: str | None = None) -> list[dict[str, Any]]:
    """Every file of the account (of one purpose), newest first, as dicts."""
    page = call(settings, lambda c: c.files.list(**({"purpose": purpose} if purpose else {})))
    return [item.model_dump() for item in call(settings, lambda c: list(page))]
