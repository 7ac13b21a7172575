"""Shared fixtures: one emulator on 127.0.0.1 for the session, and settings that point at it."""

from __future__ import annotations

import pytest

from qwen_jupyter.core.settings import Settings

APIS = ("openai", "responses", "dashscope")
KEY = "sk-test-0123456789abcdef0123456789abcdef"  # a fake key tests look for in every output


def failed(run):
    """The result of a call that must raise its answer's QwenError (achat(), wait()); the error carries it."""
    from qwen_jupyter.core.errors import QwenError

    with pytest.raises(QwenError) as caught:
        run()
    assert caught.value.result is not None and caught.value.result.error is caught.value
    return caught.value.result


@pytest.fixture(scope="session")
def emulator(qwen_emulator):
    """The packaged plugin's fixture (qwen_jupyter.testing), as users' own tests get it."""
    return qwen_emulator


@pytest.fixture
def emu(emulator):
    """The session emulator, with its request log and fault queue cleared for this test."""
    emulator.state.received.clear()
    emulator.state.queued.clear()
    return emulator


@pytest.fixture
def connect(emu):
    """chat() keyword arguments that reach the emulator."""

    def make(api: str = "openai", **extra):
        return {"api": api, "base_url": emu.url, "api_key": KEY, **extra}

    return make


@pytest.fixture
def settings(emu):
    def make(api: str = "openai", **extra) -> Settings:
        return Settings(api=api, base_url=emu.url, api_key=KEY, **extra)

    return make


@pytest.fixture
def reliability():
    """The run's reliability ledger (tests/reliability.py): record what a test tried and how it went."""
    from .reliability import LEDGER

    return LEDGER


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    from .reliability import LEDGER, REPORT

    if not LEDGER.rows:
        return
    text = LEDGER.markdown()
    terminalreporter.write_sep("=", "reliability")
    terminalreporter.write_line(text)
    full_run = not config.option.keyword and not config.option.markexpr and config.args_source.name != "ARGS"
    if full_run and exitstatus == 0:
        REPORT.write_text(text + "\n")
