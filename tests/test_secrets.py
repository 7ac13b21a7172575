"""Secrets: every key the process used stays out of errors, the database, cassettes and plain-http traffic."""

from __future__ import annotations

import io
import os
import socket
import sqlite3
import stat
import time
import traceback
import warnings

import pytest

import qwen_jupyter
from qwen_jupyter.core.errors import QwenError, redact
from qwen_jupyter.core.messages import user_message
from qwen_jupyter.core.settings import Secret
from qwen_jupyter.emulator import Emulator
from qwen_jupyter.emulator.proxy import RecordingProxy
from qwen_jupyter.state.session import Session
from qwen_jupyter.state.store import Store

from .conftest import APIS, KEY

LATER_KEY = "sk-later-9f8e7d6c5b4a39281706f5e4d3c2b1a0"  # as if typed into %qwen login mid-session


def leaks(text: str, *keys: str) -> bool:
    """Whether text holds any run of 8 characters of a key (the partial forms redact() must catch)."""
    return any(key[i:i + 8] in text for key in keys or (KEY, LATER_KEY) for i in range(len(key) - 7))


def chain(error: BaseException) -> list[BaseException]:
    """The error and every exception reachable from it through __cause__ and __context__."""
    seen, todo = [], [error]
    while todo:
        item = todo.pop()
        if item is not None and item not in seen:
            seen.append(item)
            todo += [item.__cause__, item.__context__]
    return seen


def test_masked_and_partial_forms_are_redacted(reliability):
    Secret(KEY)
    forms = [KEY, f"{KEY[:10]}{'*' * 22}{KEY[-4:]}", f"{KEY[:4]}••••••••{KEY[-4:]}", f"{KEY[:3]}...{KEY[-5:]}",
             f"{KEY[:8]}xxxxxxxxxxxxxxxx{KEY[-6:]}", f"{KEY[:3]}…{KEY[-4:]}", KEY[12:20], KEY[5:30], KEY[-9:]]
    texts = [f"Incorrect API key provided: {form}. See the docs." for form in forms]
    redacted = [redact(text) for text in texts]
    failed = sum(leaks(r) or KEY[-4:] + "." in r for r in redacted)
    reliability.add("Secrets", "masked and partial forms of a key", tried=len(forms), failed=failed)
    assert failed == 0, redacted
    assert redacted[1] == "Incorrect API key provided: sk-***. See the docs."
    ordinary = "The emulator answered sk-*** and 0123456 with the emulated badge; request 1f2e3d4c5b6a."
    assert redact(ordinary) == ordinary


def test_redaction_is_fast_on_ten_megabytes():
    Secret(KEY)
    Secret(LATER_KEY)
    text = ("Ordinary words, numbers 0123456 and hex c0ffee42 " * 200 + KEY + "\n") * 1000
    text = text * (10_000_000 // len(text) + 1)
    start = time.perf_counter()
    cleaned = redact(text)
    assert time.perf_counter() - start < 2.0
    assert KEY not in cleaned and cleaned.count("sk-***") == text.count(KEY)


def test_every_field_of_an_error_is_redacted():
    Secret(KEY)
    error = QwenError(f"bad {KEY}", code=KEY, hint=f"key {KEY[:8]}***{KEY[-4:]}", request_id=KEY[3:20])
    error.message = f"later {KEY}"
    fields = [error.message, error.code, error.hint, error.request_id, str(error), repr(error), repr(error.args)]
    assert not any(leaks(text) for text in fields), fields


@pytest.mark.parametrize("api", APIS)
def test_a_key_a_server_puts_into_an_error_reaches_no_output_log_or_cause(api, connect, tmp_path, reliability):
    store = Store(str(tmp_path / "q.db"))
    session = Session("nb.ipynb", store)
    places = []
    for key in (KEY, LATER_KEY):
        Secret(key)  # the keys of this session: the environment's, then one from %qwen login
        result = qwen_jupyter.chat(key, model="qwen-plus~bad-request,echo,echo-code", **connect(api)).wait(raise_error=False)
        error = result.error
        assert error is not None and error.status == 400
        session.record("default", "cell-1", user_message(key), result)
        places += [error.message, error.code or "", error.hint or "", error.request_id or "", str(error),
                   repr(error), repr(result), "".join(traceback.format_exception(error))]
        places += [repr(item.args) + str(item) for item in chain(error)[1:]]
    places += [repr(row) for row in store.search(None, "sk-")]
    store.close()
    places.append((tmp_path / "q.db").read_bytes().decode("utf-8", "replace"))
    failed = sum(leaks(text) for text in places)
    reliability.add("Secrets", "a key echoed into an error's code and message", tried=len(places), failed=failed)
    assert failed == 0


def test_a_cassette_holds_no_key_used_after_recording_started(emu, tmp_path, reliability):
    path = tmp_path / "lesson.jsonl"
    record = {"base_url": emu.url, "cassette": str(path), "cassette_mode": "record"}
    assert qwen_jupyter.chat("hi", api_key=KEY, **record).wait().error is None
    # %qwen login: the same recording proxy now carries a new key, which a server reflects back.
    masked = f"{LATER_KEY[:8]}********{LATER_KEY[-6:]}"
    results = [qwen_jupyter.chat(f"echo {LATER_KEY} and {masked}", model="qwen-plus~echo", api_key=LATER_KEY,
                                 **record).wait(),
               qwen_jupyter.chat(LATER_KEY, model="qwen-plus~bad-request,echo,echo-code", api_key=LATER_KEY,
                                 **record).wait(raise_error=False)]
    assert results[0].text.startswith("echo") and results[1].error.status == 400
    text = path.read_text(encoding="utf-8")
    failed = int(leaks(text))
    reliability.add("Secrets", "cassette after %qwen login", tried=2, failed=failed)
    assert failed == 0


def _non_loopback_address() -> str | None:
    """This machine's address on its main interface (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


def test_plain_http_to_another_host_warns_once_per_host(emu, reliability):
    address = _non_loopback_address()
    if address is None:
        pytest.skip("no non-loopback interface to serve the emulator on")
    with Emulator(host=address) as remote:
        with pytest.warns(UserWarning, match=rf"plain http.*{address}") as caught:
            qwen_jupyter.chat("hi", base_url=remote.url, api_key=KEY).wait()
        assert len([w for w in caught if "plain http" in str(w.message)]) == 1
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert qwen_jupyter.chat("hi", base_url=remote.url, api_key=KEY).wait().error is None
            assert qwen_jupyter.chat("hi", base_url=emu.url, api_key=KEY).wait().error is None  # loopback
    reliability.add("Secrets", "key over plain http to another host", tried=1, failed=0)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_database_and_cassettes_are_private(emu, tmp_path, monkeypatch, reliability):
    monkeypatch.delenv("QWEN_JUPYTER_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    store = Store()
    assert _mode(os.path.dirname(store.path)) == 0o700 and _mode(store.path) == 0o600
    store.close()
    os.chmod(os.path.dirname(store.path), 0o755)
    os.chmod(store.path, 0o644)  # made by an earlier version
    Store().close()
    assert _mode(os.path.dirname(store.path)) == 0o700 and _mode(store.path) == 0o600
    mine = tmp_path / "project"
    mine.mkdir(mode=0o755)
    Store(str(mine / "chats.db")).close()  # QWEN_JUPYTER_DB: the file is ours, the folder is not
    assert _mode(mine / "chats.db") == 0o600 and _mode(mine) == 0o755
    new, old = tmp_path / "new.jsonl", tmp_path / "old.jsonl"
    old.write_text('{"cassette": "qwen-jupyter", "version": 1}\n')
    os.chmod(old, 0o644)
    for path in (new, old):
        with RecordingProxy(emu.url, str(path)) as proxy:
            qwen_jupyter.chat("hi", base_url=proxy.url, api_key=KEY).wait()
    modes = [_mode(new), _mode(old)]
    reliability.add("Secrets", "file modes of the database and cassettes", tried=5, failed=0)
    assert modes == [0o600, 0o600]


def _picture(size: int) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.effect_noise((size, size), 60).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def test_stored_turns_keep_a_digest_not_the_image(emu, settings, tmp_path, reliability):
    import base64
    import hashlib

    from qwen_jupyter.api import ask
    from qwen_jupyter.core.media import image
    from qwen_jupyter.core.request import build_request

    data = _picture(48)
    encoded = base64.b64encode(data).decode()
    path = str(tmp_path / "q.db")
    session = Session("nb.ipynb", Store(path))
    request = build_request("qwen-vl-max", "Describe", media=[image(data)])
    result = ask(request, settings()).wait()
    session.record("default", "cell-1", request.messages[-1], result)
    dump = "\n".join(sqlite3.connect(path).iterdump())
    assert encoded[:64] not in dump and hashlib.sha256(data).hexdigest() in dump
    # Within the kernel's lifetime the conversation still has the picture: the next cell sends it again.
    again = build_request("qwen-vl-max", "And now?", history=session.conversation().context_for("cell-2"))
    ask(again, settings()).wait()
    assert encoded in str(emu.received[-1]["body"])
    # After a restart it is a note.
    restored = Session("nb.ipynb", Store(path)).conversation().turns[0].user
    assert restored.media == () and restored.text == "Describe\n[1 image input(s) omitted]"
    kept = Session("kept.ipynb", Store(path, keep_images=True))
    kept.record("default", "cell-1", request.messages[-1], result)
    assert Session("kept.ipynb", Store(path)).conversation().turns[0].user.media == request.messages[-1].media
    reliability.add("Secrets", "image data in stored turns", tried=1, failed=0)


def test_cassettes_keep_a_digest_of_even_small_images(emu, tmp_path, reliability):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (10, 10), "red").save(buffer, format="PNG")
    path = tmp_path / "small.jsonl"
    with RecordingProxy(emu.url, str(path)) as proxy:
        qwen_jupyter.chat("Describe", image=buffer.getvalue(), model="qwen-vl-max", base_url=proxy.url,
                          api_key=KEY).wait()
    text = path.read_text()
    failed = int("base64," in text)
    reliability.add("Secrets", "image data in cassettes", tried=1, failed=failed)
    assert failed == 0 and ";sha256=" in text
    with Emulator(cassette=str(path)) as replaying:
        again = qwen_jupyter.chat("Describe", image=buffer.getvalue(), model="qwen-vl-max",
                                  base_url=replaying.url, api_key="sk-x").wait()
    assert again.error is None
