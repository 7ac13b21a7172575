"""Terminal IPython, driven through a pseudo-terminal as a person types: answers stream as plain text, a bare
%qwen shows no Out[n], questions ending in ? are asked, and each input is its own turn."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

pytestmark = pytest.mark.e2e


class Terminal:
    def __init__(self, env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "IPython", "--simple-prompt", "--no-banner", "--colors=NoColor",
             "--HistoryManager.enabled=False"], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
        os.close(slave)
        self.screen = ""
        self.read_until("In [1]:", 60)

    def read_until(self, marker: str, timeout: float) -> list[tuple[float, str]]:
        """Read until `marker` appears after what was read so far; returns (time, text) pieces as they came."""
        start, pieces, seen = time.monotonic(), [], len(self.screen)
        while marker not in self.screen[seen:]:
            if time.monotonic() - start > timeout:
                raise TimeoutError(f"{marker!r} not seen; screen:\n{self.screen[-2000:]}")
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                text = os.read(self.master, 65536).decode(errors="replace")
                self.screen += text
                pieces.append((time.monotonic(), text))
        return pieces

    def run(self, line: str, prompt: int, timeout: float = 60) -> list[tuple[float, str]]:
        os.write(self.master, (line + "\n").encode())
        return self.read_until(f"In [{prompt}]:", timeout)

    def close(self) -> None:
        self.process.kill()
        self.process.wait(10)
        os.close(self.master)


@pytest.fixture
def terminal(emulator, tmp_path):
    env = {**os.environ, "QWEN_JUPYTER_BASE_URL": emulator.url, "DASHSCOPE_API_KEY": "sk-terminal-0123456789",
           "QWEN_JUPYTER_DB": str(tmp_path / "qwen.db"), "IPYTHONDIR": str(tmp_path / "ipython"),
           "TERM": "dumb"}
    shell = Terminal(env)
    try:
        yield shell
    finally:
        shell.close()


def test_terminal_ipython_streams_asks_questions_and_keeps_each_input(terminal):
    terminal.run("%load_ext qwen_jupyter", 2)
    pieces = terminal.run("%qwen -m qwen-plus~long=600,chunk=30,slow=0.05 What streams here?", 3)
    with_text = [t for t, text in pieces if "emulator streams" in text or "." in text]
    assert len(pieces) > 5 and with_text[-1] - with_text[0] > 0.5  # the text came over a second, not at once
    answer = "".join(text for _, text in pieces)
    assert "Out[" not in answer and "-- qwen-plus" in answer
    asked = "".join(text for _, text in terminal.run("%qwen What is the capital of France?", 4))
    assert "What is the capital of France?" in asked and "not found" not in asked
    terminal.run("%qwen tell me more", 5)
    terminal.run("%qwen tell me more", 6)
    history = "".join(text for _, text in terminal.run("%qwen history", 7))
    assert history.count("you: tell me more") == 2  # two inputs, two turns
    bound = "".join(text for _, text in terminal.run("x = %qwen hi\nprint(x.ok)", 9))
    assert "True" in bound


def test_a_comparison_prints_each_answer_as_it_ends(terminal):
    terminal.run("%load_ext qwen_jupyter", 2)
    pieces = terminal.run("%qwen --compare qwen-plus,qwen-flash~slow=0.1 Who are you?", 3)
    when = {model: next(t for t, text in pieces if f"== {model}" in text) for model in ("qwen-plus", "qwen-flash")}
    assert when["qwen-flash"] - when["qwen-plus"] > 0.5  # the quick answer did not wait for the slow one
    shown = "".join(text for _, text in pieces)
    assert shown.count("-- qwen-") == 2 and "\x1b[" not in shown and "Out[" not in shown
