"""The panel answers Send and Stop while a cell runs: its messages go to a kernel subshell (ipykernel 7), as the
front end's comm messages arrive, driven here over ZMQ exactly as JupyterLab sends them."""

from __future__ import annotations

import queue
import time

import pytest

pytestmark = pytest.mark.e2e


def _comm_msg(kernel, comm_id: str, content: dict) -> None:
    client = kernel.client
    message = client.session.msg("comm_msg", {"comm_id": comm_id, "data": {"method": "custom", "content": content}})
    client.shell_channel.send(message)


def _wait_for_busy(kernel, comm_id: str, busy: bool, timeout: float) -> float:
    """When the panel's model next says busy == `busy` (a state update on IOPub)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = kernel.client.get_iopub_msg(timeout=0.05)
        except queue.Empty:
            continue
        content = msg["content"]
        if msg["msg_type"] == "comm_msg" and content.get("comm_id") == comm_id:
            state = (content.get("data") or {}).get("state") or {}
            if state.get("busy") is busy:
                return time.monotonic()
    raise TimeoutError(f"the panel never said busy={busy}")


def test_stop_and_send_act_while_a_cell_sleeps(kernel, reliability):
    setup = kernel.execute(
        "import qwen_jupyter\n"
        "p = qwen_jupyter.Panel(chat='beside', model='qwen-plus~long=40000,chunk=4,slow=0.005')\n"
        "print(p.model_id, p.concurrent)\n"
        "r = p.ask('A long answer')")
    comm_id, concurrent = setup.stdout.split()
    assert concurrent == "True", "this ipykernel runs no subshells"
    sleeper = kernel.client.session.msg("execute_request", {
        "code": "import time\ntime.sleep(8)", "silent": False, "store_history": False, "user_expressions": {},
        "allow_stdin": False, "stop_on_error": True})
    kernel.client.shell_channel.send(sleeper)
    time.sleep(1.0)  # the cell is sleeping now; the answer streams in the panel's thread
    stopped_at = time.monotonic()
    _comm_msg(kernel, comm_id, {"type": "stop"})
    stop_latency = _wait_for_busy(kernel, comm_id, False, 6) - stopped_at
    sent_at = time.monotonic()
    _comm_msg(kernel, comm_id, {"type": "send", "text": "And another, while the cell still sleeps", "images": []})
    send_latency = _wait_for_busy(kernel, comm_id, True, 6) - sent_at
    _comm_msg(kernel, comm_id, {"type": "stop"})
    _wait_for_busy(kernel, comm_id, False, 6)
    print(f"Stop took {stop_latency * 1000:.0f} ms and Send {send_latency * 1000:.0f} ms during time.sleep(8)")
    reliability.add("Faults", "panel Stop and Send while a cell sleeps", tried=2,
                    failed=int(stop_latency >= 1.0) + int(send_latency >= 1.0))
    assert stop_latency < 1.0 and send_latency < 1.0, (stop_latency, send_latency)
    kernel.reply_to(sleeper["header"]["msg_id"])  # the sleeping cell's reply
    check = kernel.execute("p.wait(30)\nprint(r.interrupted, [t['status'] for t in p.turns][-2:])")
    assert check.stdout.split()[0] == "True" and "'interrupted'" in check.stdout
