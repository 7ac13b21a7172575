"""Documents for qwen-long: checked before upload, uploaded once per content (purpose `file-extract`), waited for
until parsed, and referred to as one `fileid://` system message after the ordinary system prompt."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import QwenError
from ..settings import Settings

FORMATS = {".txt", ".docx", ".pdf", ".xlsx", ".epub", ".mobi", ".md", ".csv", ".json", ".bmp", ".png", ".jpg",
           ".jpeg", ".gif"}  # Model Studio's list for file-extract (images on newer models)
MAX_BYTES = 150 * 1024 * 1024
PURPOSE = "file-extract"
DOCUMENT_MODEL = "qwen-long"
_UPLOADED: dict[tuple[str, str], str] = {}  # (host, sha256 of the content) -> file id, for this kernel


def read_document(path: str | os.PathLike[str]) -> tuple[str, bytes]:
    """The file's name and bytes, after the checks the service would make (type, size, not empty)."""
    file = Path(path).expanduser()
    suffix = file.suffix.lower()
    if suffix not in FORMATS:
        raise QwenError(f"{file.name}: qwen-long reads {', '.join(sorted(FORMATS))} files, not {suffix or 'this'}.",
                        code="InvalidInput", hint="Convert it (e.g. to .pdf or .txt) first.")
    if not file.is_file():
        raise QwenError(f"No file at {file}.", code="InvalidInput", hint="")
    size = file.stat().st_size
    if size > MAX_BYTES:
        raise QwenError(f"{file.name} is {size / 2**20:.0f} MB; a document may be at most 150 MB.",
                        code="InvalidInput", hint="Split it into smaller files.")
    if size == 0:
        raise QwenError(f"{file.name} is empty.", code="InvalidInput", hint="")
    return file.name, file.read_bytes()


def wait_parsed(settings: Settings, file_id: str, timeout: float = 300.0) -> dict[str, Any]:
    """The file object once the service has parsed it; an error if parsing failed or took too long."""
    from ..backends.files import retrieve_file

    deadline, delay = time.monotonic() + timeout, 0.05
    while True:
        found = retrieve_file(settings, file_id)
        status = found.get("status")
        if status == "processed":
            return found
        if status == "error":
            raise QwenError(f"The service could not parse {found.get('filename') or file_id}: "
                            f"{found.get('status_details') or 'no reason given'}.", code="FileParseFailed",
                            hint="Check that the file opens and is the type its name says.")
        if time.monotonic() > deadline:
            raise QwenError(f"{found.get('filename') or file_id} was still being parsed after {timeout:g} s.",
                            code="Timeout", hint="Run the cell again later: the upload is kept.")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)


def upload_documents(paths: Iterable[str | os.PathLike[str]], settings: Settings) -> list[str]:
    """File ids for the documents, uploading only contents not uploaded before (and still there)."""
    from ..backends.files import retrieve_file, upload

    documents = [read_document(path) for path in paths]  # every check before the first upload
    ids = []
    for name, data in documents:
        key = (settings.host, hashlib.sha256(data).hexdigest())
        file_id = _UPLOADED.get(key)
        if file_id is not None:
            try:
                retrieve_file(settings, file_id)
            except QwenError as error:
                if error.status != 404:
                    raise
                file_id = None  # deleted since: upload it again
        if file_id is None:
            file_id = upload(settings, name, data, PURPOSE)["id"]
            _UPLOADED[key] = file_id
        wait_parsed(settings, file_id)
        ids.append(file_id)
    return ids


def forget(file_ids: Iterable[str]) -> None:
    """Drop deleted files from the upload cache."""
    gone = set(file_ids)
    for key in [k for k, v in _UPLOADED.items() if v in gone]:
        del _UPLOADED[key]


def files_table(settings: Settings) -> list[dict[str, Any]]:
    """The account's documents (purpose file-extract): id, name, size, status, created."""
    from ..backends.files import list_files

    return [{k: f.get(k) for k in ("id", "filename", "bytes", "status", "created_at")}
            for f in list_files(settings, PURPOSE)]


def delete_documents(settings: Settings, file_ids: Iterable[str]) -> list[str]:
    """Delete documents by id; returns the ids deleted."""
    from ..backends.files import delete_file

    deleted = []
    for file_id in file_ids:
        delete_file(settings, file_id)
        deleted.append(file_id)
    forget(deleted)
    return deleted
