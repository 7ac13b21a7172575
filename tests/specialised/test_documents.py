"""Documents for qwen-long: checked, uploaded once per content, waited for until parsed, sent as fileid://."""

from __future__ import annotations

import time

import pytest

import qwen_jupyter
from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.core.settings import Settings
from qwen_jupyter.engine.documents import delete_documents, files_table, upload_documents

from ..conftest import KEY


@pytest.fixture
def notes(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("Qwen-Long reads long documents. This one is short.\nSecond line.", encoding="utf-8")
    return path


@pytest.fixture
def clean(emu):
    """The emulator with no stored files (others' tests leave theirs), and no slow parsing, before and after."""
    emu.state.files.clear()
    yield emu
    emu.state.files.clear()
    emu.state.parse_seconds = 0.0


def _uploads(emu):
    return list(emu.state.files)  # the tests start with no files: every one there was uploaded by the test


@pytest.mark.parametrize("api", ["openai", "dashscope", "responses"])
def test_a_document_is_sent_as_a_fileid_system_message_after_the_system_prompt(api, notes, connect, clean):
    result = qwen_jupyter.chat("What is this about?", file=str(notes), system="Be brief.", **connect(api))
    assert result.error is None and result.model == "qwen-long"
    assert "I read 1 document: notes.txt" in result.text and "Qwen-Long reads long documents" in result.text
    file_id = next(iter(clean.state.files))
    assert file_id.startswith("file-fe-") and clean.state.files[file_id]["object"]["purpose"] == "file-extract"
    sent = [m.to_dict() for m in result.sent]
    assert [m["content"] for m in sent[:2]] == ["Be brief.", f"fileid://{file_id}"]
    assert result.api in ("openai", "dashscope")  # Responses has no place for documents: Chat Completions


def test_several_documents_go_in_one_system_message(notes, tmp_path, connect, clean):
    other = tmp_path / "data.csv"
    other.write_text("a,b\n1,2\n")
    result = qwen_jupyter.chat("Compare them.", file=[notes, other], **connect())
    assert "I read 2 documents" in result.text
    (system,) = [m for m in result.sent if m.role == "system"]
    assert system.text.count("fileid://") == 2 and "," in system.text


def test_a_document_in_memory_is_a_name_and_its_bytes(connect):
    result = qwen_jupyter.chat("What is this?", file=("minutes.md", b"# Minutes\nShip on Friday."), **connect())
    assert "I read 1 document: minutes.md" in result.text
    both = qwen_jupyter.chat("And these?", file=[("a.txt", b"one"), ("b.txt", b"two")], **connect())
    assert "I read 2 documents" in both.text


def test_the_same_content_is_uploaded_once(notes, connect, clean):
    for _ in range(3):
        assert qwen_jupyter.chat("Again?", file=notes, **connect()).ok
    assert len(_uploads(clean)) == 1


def test_a_deleted_document_is_uploaded_again(notes, settings, clean):
    first = upload_documents([notes], settings())
    delete_documents(settings(), first)
    second = upload_documents([notes], settings())
    assert first != second and _uploads(clean) == second


def test_parsing_is_waited_for(notes, settings, clean):
    clean.state.parse_seconds = 0.3
    start = time.perf_counter()
    (file_id,) = upload_documents([notes], settings())
    assert time.perf_counter() - start >= 0.3 and clean.state.files[file_id]["object"]["status"] == "processed"


def test_a_file_that_fails_parsing_is_a_clear_error(tmp_path, settings, clean):
    fake = tmp_path / "report.pdf"
    fake.write_bytes(b"not really a pdf")
    with pytest.raises(QwenError, match="could not parse report.pdf") as caught:
        upload_documents([fake], settings())
    assert caught.value.code == "FileParseFailed"


@pytest.mark.parametrize("name, content, message", [
    ("movie.mp4", b"x", "reads .bmp"), ("empty.txt", b"", "is empty"), ("missing.txt", None, "No file at")])
def test_unsupported_empty_or_missing_files_are_refused_before_upload(name, content, message, tmp_path, connect,
                                                                      clean):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(QwenError, match=message) as caught:
        qwen_jupyter.chat("hi", file=path, **connect())
    assert caught.value.code == "InvalidInput" and not _uploads(clean)


def test_too_large_a_file_is_refused_before_upload(tmp_path, connect, clean):
    path = tmp_path / "big.txt"
    with open(path, "wb") as handle:
        handle.truncate(150 * 1024 * 1024 + 1)  # sparse: no disk used
    with pytest.raises(QwenError, match="at most 150 MB"):
        qwen_jupyter.chat("hi", file=path, **connect())
    assert not _uploads(clean)


@pytest.mark.parametrize("api", ["openai", "dashscope"])
def test_the_emulator_refuses_an_unknown_fileid(api, connect, clean):
    result = qwen_jupyter.chat("hi", model="qwen-long", system="fileid://file-fe-nosuch", **connect(api))
    assert result.error is not None and result.error.status == 400
    assert "file-fe-nosuch" in result.error.message and "does not exist" in result.error.message


def test_files_are_listed_and_deleted(notes, clean):
    settings = Settings(api="openai", base_url=clean.url, api_key=KEY)
    upload_documents([notes], settings)
    (listed,) = files_table(settings)
    assert listed["filename"] == "notes.txt" and listed["status"] == "processed"
    delete_documents(settings, [listed["id"]])
    assert files_table(settings) == []


def test_the_upload_cache_survives_a_restart_and_holds_no_content_or_key(notes, settings, clean, tmp_path):
    (file_id,) = upload_documents([notes], settings())
    cache = (tmp_path / "qwen-uploads.json").read_text()
    assert file_id in cache and "Qwen-Long reads" not in cache and KEY not in cache
    assert upload_documents([notes], settings()) == [file_id]  # read back from the file, as a new kernel would
    assert len(_uploads(clean)) == 1


def test_a_conversations_documents_go_with_a_later_call_to_a_model_that_reads_them(notes, connect, clean):
    first = qwen_jupyter.chat("What is this about?", file=str(notes), conversation="report", **connect())
    assert first.error is None
    (file_id,) = clean.state.files
    later = qwen_jupyter.chat("And the second line?", model="qwen-long", conversation="report", **connect())
    assert "I read 1 document: notes.txt" in later.text
    assert [m.text for m in later.sent if m.role == "system"] == [f"fileid://{file_id}"]
    other = qwen_jupyter.chat("Hello", model="qwen-plus", conversation="report", **connect())
    assert not [m for m in other.sent if m.role == "system"] and len(other.sent) == 5
