"""Each test keeps what the toolkit saves (the conversation database, the uploads cache) in its own folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def own_database(tmp_path, monkeypatch):
    monkeypatch.setenv("QWEN_JUPYTER_DB", str(tmp_path / "qwen.db"))
