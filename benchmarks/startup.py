"""The first cell after `%load_ext`: how long to its first token, with the kernel idle for a second in between.

    python benchmarks/startup.py [ROUNDS]        # prints a Markdown table (copied into RESULTS.md)

Each round starts a fresh kernel, times `%load_ext qwen_jupyter` (execute_request to reply), waits a second, then
times a `%%qwen` cell from the request to the first display message carrying answer text, and a second cell the
same way (everything warm). Two ways of reaching a server: an emulator in this process (as with a base_url or
a key), and the kernel's own offline emulator (no key, the default for classrooms).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qwen_jupyter.emulator import Emulator  # noqa: E402
from tests.e2e.kernel import Kernel  # noqa: E402


def first_text(kernel: Kernel, code: str) -> float:
    """Seconds from the request to the first display message with answer text in it."""
    seen: list[float] = []

    def watch(msg):
        data = msg["content"].get("data") or {}
        if not seen and msg["msg_type"] in ("display_data", "update_display_data") and any(data.values()):
            seen.append(msg["received"])

    run = kernel.execute(code, on_message=watch)
    assert run.reply["content"]["status"] == "ok", run.stderr
    return seen[0] - run.started


def round_trip(env: dict[str, str]) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as scratch:
        kernel = Kernel({**env, "QWEN_JUPYTER_DB": f"{scratch}/qwen.db"})
        try:
            load = kernel.execute("%load_ext qwen_jupyter")
            loaded = load.messages[-1]["received"] - load.started
            time.sleep(1.0)
            first = first_text(kernel, "%%qwen\nWho are you?")
            second = first_text(kernel, "%%qwen\nAnd who am I?")
            return loaded, first, second
        finally:
            kernel.shutdown()


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    print("| server | `%load_ext` | first cell: first token | second cell: first token |")
    print("|---|---:|---:|---:|")
    with Emulator() as emu:
        setups = {"emulator in another process (base_url + key)":
                  {"QWEN_JUPYTER_BASE_URL": emu.url, "DASHSCOPE_API_KEY": "sk-startup-0123456789"},
                  "the kernel's own offline emulator (no key)": {"QWEN_JUPYTER_OFFLINE": "auto"}}
        for name, env in setups.items():
            runs = [round_trip(env) for _ in range(rounds)]
            med = [statistics.median(r[i] for r in runs) * 1000 for i in range(3)]
            print(f"| {name} | {med[0]:.0f} ms | {med[1]:.0f} ms | {med[2]:.0f} ms |")


if __name__ == "__main__":
    main()
