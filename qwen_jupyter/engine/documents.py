"""Documents for qwen-long: checked before upload, uploaded once per content (purpose `file-extract`), waited for
until parsed, and referred to as one `fileid://` system message after the ordinary system prompt.

Which contents were uploaded where is kept beside the conversation database (qwen-uploads.json: host, SHA-256 of
the content, file id; no content, no key), so a restarted kernel does not upload the same document again.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..core.errors import QwenError
from ..core.settings import Settings
from ..core.text import printable

FORMATS = {".txt", ".docx", ".pdf", ".xlsx", ".epub", ".mobi", ".md", ".csv", ".json", ".bmp", ".png", ".jpg",
           ".jpeg", ".gif"}  # Model Studio's list for file-extract (images on newer models)
MAX_BYTES = 150 * 1024 * 1024
PURPOSE = "file-extract"
CACHE_NAME = "qwen-uploads.json"


Document = str | os.PathLike[str] | tuple[str, bytes]  # a path, or a file's name and bytes (the panel's attach)


def as_documents(value: Document | Iterable[Document]) -> list[Document]:
    """file= as chat() takes it: a path, a (name, bytes) pair, or a list of either."""
    if isinstance(value, (str, os.PathLike)) or (isinstance(value, tuple) and len(value) == 2
                                                  and isinstance(value[1], (bytes, bytearray))):
        return [value]
    return list(value)


def document_name(document: Document) -> str:
    """The name a document goes by: its file's name, or the name given with its bytes (without control
    characters, which a multipart header cannot carry and a terminal listing it would act on)."""
    return printable(Path(document[0]).name if isinstance(document, tuple) else Path(document).expanduser().name)


def read_document(document: Document) -> tuple[str, bytes]:
    """The file's name and bytes, after the checks the service would make (type, size, not empty)."""
    if isinstance(document, tuple):  # already read (sent by the panel's front end): the same checks
        if not isinstance(document[1], (bytes, bytearray, memoryview)):
            raise QwenError(f"A document in memory is (name, bytes), not (name, {type(document[1]).__name__}).",
                            code="InvalidInput", hint="")
        name, data = document_name(document), bytes(document[1])
        _check_type(name)
        _check_size(name, len(data))
        return name, data
    file = Path(document).expanduser()
    _check_type(file.name)  # before looking for it: a wrong type is said even of a missing file
    if not file.is_file():
        raise QwenError(f"No file at {file}.", code="InvalidInput", hint="")
    _check_size(file.name, file.stat().st_size)
    return document_name(document), file.read_bytes()


def _check_type(name: str) -> None:
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        raise QwenError(f"{name}: qwen-long reads {', '.join(sorted(FORMATS))} files, not {suffix or 'this'}.",
                        code="InvalidInput", hint="Convert it (e.g. to .pdf or .txt) first.")


def _check_size(name: str, size: int) -> None:
    if size > MAX_BYTES:
        raise QwenError(f"{name} is {size / 2**20:.0f} MB; a document may be at most 150 MB.",
                        code="InvalidInput", hint="Split it into smaller files.")
    if size == 0:
        raise QwenError(f"{name} is empty.", code="InvalidInput", hint="")


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


def _cache_file() -> Path | None:
    from ..state.store import default_path

    database = default_path()
    return None if database == ":memory:" else Path(database).with_name(CACHE_NAME)


def _uploaded() -> dict[str, str]:
    """"host sha256" -> file id, as saved (an unreadable cache is an empty one)."""
    path = _cache_file()
    try:
        found = json.loads(path.read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def _save(uploaded: dict[str, str]) -> None:
    path = _cache_file()
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(uploaded, indent=0), encoding="utf-8")
    except OSError:
        pass  # a read-only place: documents are uploaded again next time, nothing else is lost


def upload_documents(paths: Iterable[Document], settings: Settings) -> list[str]:
    """File ids for the documents (paths, or (name, bytes) pairs), uploading only contents not uploaded before
    (and still there)."""
    from ..backends.files import retrieve_file, upload

    documents = [read_document(path) for path in paths]  # every check before the first upload
    uploaded = _uploaded()
    ids = []
    for name, data in documents:
        key = f"{settings.host} {hashlib.sha256(data).hexdigest()}"
        file_id = uploaded.get(key)
        if file_id is not None:
            try:
                retrieve_file(settings, file_id)
            except QwenError as error:
                if error.status != 404:
                    raise
                file_id = None  # deleted since: upload it again
        if file_id is None:
            file_id = upload(settings, name, data, PURPOSE)["id"]
            uploaded[key] = file_id
            _save(uploaded)
        wait_parsed(settings, file_id)
        ids.append(file_id)
    return ids


def still_uploaded(file_ids: Iterable[str], host: str) -> tuple[str, ...]:
    """The file ids the upload cache still holds for this host (all of them when there is no cache to ask)."""
    ids = tuple(file_ids)
    if not ids or _cache_file() is None:
        return ids
    known = {file_id for key, file_id in _uploaded().items() if key.split(" ", 1)[0] == host}
    return tuple(file_id for file_id in ids if file_id in known)


def forget(file_ids: Iterable[str]) -> None:
    """Drop deleted files from the upload cache."""
    gone = set(file_ids)
    uploaded = _uploaded()
    _save({k: v for k, v in uploaded.items() if v not in gone})


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
