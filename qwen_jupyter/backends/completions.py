"""Chat Completions for tables: many non-streamed requests over one async client, and the Files and Batch APIs.

map() sends every row as a non-streamed Chat Completions request: exactly the JSON body a Batch API line carries,
so a row's answer is the same whichever way it travelled. The answers come back as plain JSON (dicts), which is also
what a batch's output file holds.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from ..core.errors import QwenError
from ..core.request import Request
from ..core.settings import Settings
from . import EMULATOR_HEADER, transport
from ._openai_sdk import call
from .openai import wire_body

BATCH_URL = "/v1/chat/completions"  # the endpoint every line of a chat batch names


def body(request: Request) -> dict[str, Any]:
    """The non-streamed Chat Completions body of a request, with Qwen's extras as plain keys (a Batch line's)."""
    return wire_body(replace(request, stream=False))


class Completions:
    """One async client for many requests (its connections are reused); `async with` closes it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client = transport.async_client(settings)
        self._url = settings.compatible_url + "/chat/completions"

    async def __aenter__(self) -> Completions:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def create(self, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The chat.completion JSON for a request body, and whether the emulator answered; failures raise
        QwenError. The body goes as it is."""
        async with transport.apost(self._client, self.settings, self._url, body) as response:
            try:
                completion = transport.json_object(await response.aread())
            except ValueError:
                raise QwenError("The service answered with something that is not a JSON object.",
                                code="MalformedChunk") from None
            return completion, EMULATOR_HEADER in response.headers


def upload(settings: Settings, name: str, data: bytes, purpose: str) -> dict[str, Any]:
    """Upload a file (purpose `batch` or `file-extract`); the file object as a dict."""
    return call(settings, lambda c: c.files.create(file=(name, data), purpose=purpose)).model_dump()  # type: ignore[arg-type]


def file_content(settings: Settings, file_id: str) -> tuple[bytes, bool]:
    """A file's content (batch output and error files), and whether the emulator served it."""
    response = call(settings, lambda c: c.files.content(file_id))
    return response.content, EMULATOR_HEADER in response.response.headers


def delete_file(settings: Settings, file_id: str) -> None:
    """Delete an uploaded file."""
    call(settings, lambda c: c.files.delete(file_id))


def create_batch(settings: Settings, input_file_id: str, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    """Start a chat batch over an uploaded file; the batch object as a dict."""
    return call(settings, lambda c: c.batches.create(
        input_file_id=input_file_id, endpoint=BATCH_URL, completion_window="24h", metadata=metadata)).model_dump()


def retrieve_batch(settings: Settings, batch_id: str) -> dict[str, Any]:
    """A batch's current state, as a dict."""
    return call(settings, lambda c: c.batches.retrieve(batch_id)).model_dump()


def cancel_batch(settings: Settings, batch_id: str) -> dict[str, Any]:
    """Ask the service to cancel a batch; the batch object (status `cancelling`) as a dict."""
    return call(settings, lambda c: c.batches.cancel(batch_id)).model_dump()


def output_lines(settings: Settings, file_id: str | None) -> tuple[Iterator[dict[str, Any]], bool]:
    """The JSON lines of a batch output or error file (none without a file), parsed one at a time as they are
    read (a file holds up to 50,000 answers), and whether the emulator served it."""
    if not file_id:
        return iter(()), False
    content, emulated = file_content(settings, file_id)
    return _json_lines(content, file_id), emulated


def _json_lines(content: bytes, file_id: str) -> Iterator[dict[str, Any]]:
    for line in io.BytesIO(content):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError as exc:
                raise QwenError(f"The batch file {file_id} is not JSON lines: {exc}.", code="MalformedChunk") from exc
