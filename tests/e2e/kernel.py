"""A real ipykernel driven over ZMQ, as JupyterLab drives it: execute requests with cell ids, IOPub collected."""

from __future__ import annotations

import os
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from jupyter_client.manager import KernelManager


@dataclass
class Execution:
    """Everything one execute_request produced."""

    reply: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    started: float = 0.0
    prompts: list[str] = field(default_factory=list)  # what input() asked

    def of(self, *types: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["msg_type"] in types]

    @property
    def stdout(self) -> str:
        return "".join(m["content"]["text"] for m in self.of("stream") if m["content"]["name"] == "stdout")

    @property
    def stderr(self) -> str:
        return "".join(m["content"]["text"] for m in self.of("stream") if m["content"]["name"] == "stderr")

    @property
    def final(self) -> dict[str, str]:
        """The data of the last display_data (the finished result view)."""
        displays = [m for m in self.of("display_data") if m["content"]["data"]]
        return displays[-1]["content"]["data"] if displays else {}

    @property
    def display_messages(self) -> list[dict[str, Any]]:
        return self.of("display_data", "update_display_data", "clear_output")


class Kernel:
    """Start, run cells in, interrupt and restart one kernel with a given environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.manager = KernelManager(kernel_name="python3")
        self.env = {**os.environ, **env}
        # A restart from another thread (a test's "the kernel dies mid-run") swaps the client: a cell is sent only
        # on a client that is ready, and read from the client it was sent on, never two threads on one socket.
        self._switching = threading.Lock()
        self.manager.start_kernel(env=self.env)
        self._connect()

    def _connect(self) -> None:
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def execute(self, code: str, cell_id: str | None = None, timeout: float = 60, on_message=None,
                deleted: list[str] | None = None, answers: list[str] | None = None, wait: bool = False) -> Execution:
        """Run code as a notebook cell would (with metadata.cellId) and gather its IOPub messages; `answers`
        are typed into input() prompts in turn (the front end allows stdin only then); past them an empty line is
        typed, or with `wait` nothing (a person who has not answered yet)."""
        metadata = {"cellId": cell_id or uuid.uuid4().hex}
        if deleted:
            metadata["deletedCells"] = deleted
        message = self.client.session.msg("execute_request", {
            "code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": answers is not None,
            "stop_on_error": True}, metadata=metadata)
        with self._switching:
            client = self.client
            client.shell_channel.send(message)
        msg_id = message["header"]["msg_id"]
        execution = Execution(reply={}, started=time.perf_counter())
        deadline = time.monotonic() + timeout
        typed = list(answers or ())
        while True:
            if answers is not None and client.stdin_channel.msg_ready():
                request = client.get_stdin_msg(timeout=1)
                execution.prompts.append(request["content"]["prompt"])
                if typed or not wait:
                    client.input(typed.pop(0) if typed else "")
            try:
                msg = client.get_iopub_msg(timeout=max(0.01, min(0.05, deadline - time.monotonic())))
            except queue.Empty:
                if time.monotonic() < deadline:
                    continue
                raise TimeoutError(f"no idle after {timeout} s running {code[:60]!r}") from None
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            msg["received"] = time.perf_counter()
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
            execution.messages.append(msg)
            if on_message:
                on_message(msg)
        execution.reply = self.reply_to(msg_id, client=client)
        return execution

    def reply_to(self, msg_id: str, timeout: float = 15, client: Any = None) -> dict[str, Any]:
        """The shell reply to one request. Others are skipped: a kernel slow to start gets several kernel_info
        requests from wait_for_ready, which reads one reply, and a stale one would pass for the next cell's."""
        while True:
            reply = (client or self.client).get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def interrupt(self) -> None:
        self.manager.interrupt_kernel()

    def restart(self) -> None:
        with self._switching:
            self.client.stop_channels()
            self.manager.restart_kernel(now=True, env=self.env)
            self._connect()

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)
