"""Start-up: `%load_ext`, and the first answer under Run All against the bare openai SDK's first call.

    python benchmarks/startup.py [ROUNDS]        # prints Markdown tables (copied into RESULTS.md)

Every round starts a fresh kernel, as a person's Run All (or nbconvert, papermill, a class running every cell)
does, and measures from the first execute_request to the first display or stream message carrying answer text:

- bare SDK: one cell that imports openai, makes a client and streams a Chat Completions answer, printing each
  piece (what a person writes without this project);
- Run All: `%load_ext qwen_jupyter`, then at once (no idle time) a `%%qwen` cell;
- after idle: the same, with a second between the two cells (the warm-up thread's best case);
- a later cell: the second `%%qwen` cell of a warm kernel.

Both reach the same emulator in this process (base_url and a key), so the network is the same and only the
client-side path differs. `%load_ext` alone is timed from its request to its reply.
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

KEY = "sk-startup-0123456789"
BARE = """import openai
client = openai.OpenAI(base_url={url!r} + "/compatible-mode/v1", api_key={key!r})
for chunk in client.chat.completions.create(model="qwen-plus", messages=[{{"role": "user", "content": "Who are you?"}}],
                                            stream=True):
    if chunk.choices and chunk.choices[0].delta.content:
        print(chunk.choices[0].delta.content, end="", flush=True)
"""


def _first_text(kernel: Kernel, code: str, since: float | None = None) -> float:
    """Seconds from `since` (default: this request) to the first message with answer text in it."""
    seen: list[float] = []

    def watch(msg):
        content = msg["content"]
        text = content.get("text") if msg["msg_type"] == "stream" else any((content.get("data") or {}).values())
        if not seen and msg["msg_type"] in ("display_data", "update_display_data", "stream") and text:
            seen.append(msg["received"])

    run = kernel.execute(code, on_message=watch)
    assert run.reply["content"]["status"] == "ok", run.stderr
    return seen[0] - (run.started if since is None else since)


def _kernel(env: dict[str, str], scratch: str) -> Kernel:
    return Kernel({**env, "QWEN_JUPYTER_DB": f"{scratch}/qwen.db"})


def round_trip(url: str) -> dict[str, float]:
    """One fresh kernel per way of asking; seconds."""
    env = {"QWEN_JUPYTER_BASE_URL": url, "DASHSCOPE_API_KEY": KEY}
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        kernel = _kernel(env, scratch)
        try:
            out["bare SDK, first call"] = _first_text(kernel, BARE.format(url=url, key=KEY))
        finally:
            kernel.shutdown()
        kernel = _kernel(env, scratch)
        try:
            started = time.perf_counter()
            load = kernel.execute("%load_ext qwen_jupyter")
            assert load.reply["content"]["status"] == "ok", load.stderr
            out["%load_ext"] = time.perf_counter() - started
            out["Run All: %load_ext + first cell"] = _first_text(kernel, "%%qwen\nWho are you?", since=started)
            out["a later cell"] = _first_text(kernel, "%%qwen\nAnd who am I?")
        finally:
            kernel.shutdown()
        kernel = _kernel(env, scratch)
        try:
            kernel.execute("%load_ext qwen_jupyter")
            time.sleep(1.0)
            out["first cell after 1 s idle"] = _first_text(kernel, "%%qwen\nWho are you?")
        finally:
            kernel.shutdown()
    return out


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with Emulator() as emu:
        runs = [round_trip(emu.url) for _ in range(rounds)]
    bare = statistics.median(r["bare SDK, first call"] for r in runs)
    print(f"{rounds} rounds, medians (min–max); each a fresh kernel, the emulator in the benchmark's process.\n")
    print("| to the first answer text | seconds | × the bare SDK's first call |")
    print("|---|---:|---:|")
    for name in runs[0]:
        values = [r[name] for r in runs]
        median = statistics.median(values)
        print(f"| {name} | {median:.3f} ({min(values):.3f}–{max(values):.3f}) | {median / bare:.2f} |")


if __name__ == "__main__":
    main()
