"""A pytest plugin installed with qwen-jupyter: the `qwen_emulator` fixture, for your own tests too.

    def test_my_analysis(qwen_emulator):
        result = qwen_jupyter.chat("hi", base_url=qwen_emulator.url, api_key="sk-emulator")
"""

from __future__ import annotations

import pytest

from .emulator import Emulator


@pytest.fixture(scope="session")
def qwen_emulator():
    """The Model Studio emulator on a free port of 127.0.0.1, for the whole test session."""
    with Emulator() as emulator:
        yield emulator
