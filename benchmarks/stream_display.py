"""Streaming into a real kernel: display messages, bytes, CPU and first-token latency of the cell view.

    python benchmarks/stream_display.py            # writes benchmarks/RESULTS.md

The emulator streams 4-character chunks, one a millisecond (4,000 and 16,000 of them). Each way of showing the
stream runs as a cell in a real ipykernel; CPU time is measured inside the kernel around the cell's work, the
display messages and their bytes are counted on the client side of IOPub, as JupyterLab would receive them.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qwen_jupyter.emulator import Emulator  # noqa: E402
from tests.e2e.kernel import Kernel  # noqa: E402

SETUP = """
import json, time, openai
from IPython.display import display, Markdown
client = openai.OpenAI(base_url=URL + "/compatible-mode/v1", api_key="sk-bench", max_retries=0)
def stream(model):
    return client.chat.completions.create(model=model, messages=[{"role": "user", "content": "go"}], stream=True)
def report(cpu, first):
    print("BENCH " + json.dumps({"cpu": cpu, "first": first}))
"""

MODES = {
    "bare": """
t = time.process_time(); first = None
for chunk in stream(MODEL):
    if first is None and chunk.choices and chunk.choices[0].delta.content:
        first = time.perf_counter()
report(time.process_time() - t, None)
""",
    "every_chunk": """
t = time.process_time(); text = ""; handle = display(Markdown(""), display_id=True); first = None
for chunk in stream(MODEL):
    if chunk.choices and chunk.choices[0].delta.content:
        first = first or time.perf_counter()
        text += chunk.choices[0].delta.content
        handle.update(Markdown(text))
report(time.process_time() - t, first)
""",
    "throttled_10": """
t = time.process_time(); text = ""; handle = display(Markdown(""), display_id=True); last = 0.0; first = None
for chunk in stream(MODEL):
    if chunk.choices and chunk.choices[0].delta.content:
        first = first or time.perf_counter()
        text += chunk.choices[0].delta.content
        if time.perf_counter() - last >= 0.1:
            handle.update(Markdown(text)); last = time.perf_counter()
handle.update(Markdown(text))
report(time.process_time() - t, first)
""",
    # --once: no history, so every run sends the same request as the other ways do
    "qwen_cell_view": """
t = time.process_time()
r = get_ipython().run_cell_magic("qwen", "--once -m " + MODEL, "go")
display(r)
report(time.process_time() - t, r._fold.first_token_at)
""",
}


def run(kernel: Kernel, mode: str, model: str) -> dict:
    # A full collection first, so each measured run starts from the same garbage-collector state.
    execution = kernel.execute(f"import gc; gc.collect()\nMODEL = {model!r}\n" + MODES[mode], timeout=600)
    line = next(x for x in execution.stdout.splitlines() if x.startswith("BENCH "))
    measured = json.loads(line[6:])
    displays = execution.display_messages
    shown = [m for m in displays if m["content"].get("data", {}).get("text/markdown")]
    first_shown = shown[0]["received"] if shown else None
    latency = (first_shown - measured["first"]) * 1000 if measured["first"] and first_shown else None
    times = [m["received"] for m in displays]
    per_second = max((sum(1 for t in times if s <= t < s + 1) for s in times), default=0)
    sent = sum(len(json.dumps(m["content"].get("data", {}))) for m in displays)
    return {"cpu": measured["cpu"], "messages": len(displays), "bytes": sent, "per_second": per_second,
            "latency_ms": latency}


def main() -> None:
    repeats = int(os.environ.get("BENCH_REPEATS", "3"))
    rows = []
    with Emulator() as emu:
        kernel = Kernel({"QWEN_JUPYTER_BASE_URL": emu.url, "DASHSCOPE_API_KEY": "sk-bench",
                         "QWEN_JUPYTER_DB": ":memory:", "QWEN_JUPYTER_OFFLINE": "auto"})
        try:
            kernel.execute("%load_ext qwen_jupyter\nURL = " + repr(emu.url) + SETUP)
            for mode in MODES:  # warm up: imports, clients, the store; measured runs are steady state
                run(kernel, mode, "qwen-plus~long=400,chunk=4")
            for chunks in (4000, 16000):
                model = f"qwen-plus~long={chunks * 4},chunk=4,slow=0.001"
                modes = [m for m in MODES if not (m == "every_chunk" and chunks > 4000)]  # ~1 GB at 16,000
                samples: dict[str, list[dict]] = {mode: [] for mode in modes}
                for _ in range(repeats):  # interleaved, so drift in the machine or the heap hits every mode alike
                    for mode in modes:
                        samples[mode].append(run(kernel, mode, model))
                for mode in modes:
                    runs = samples[mode]
                    ratios = [r["cpu"] / b["cpu"] for r, b in zip(runs, samples["bare"], strict=True)]
                    latencies = [r["latency_ms"] for r in runs if r["latency_ms"] is not None]
                    row = {**runs[-1], "chunks": chunks, "mode": mode, "answer": chunks * 4,
                           "cpu_median": statistics.median(r["cpu"] for r in runs),
                           "ratio": statistics.median(ratios),
                           "latency_ms": statistics.median(latencies) if latencies else None,
                           "per_second": max(r["per_second"] for r in runs)}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            kernel.shutdown()
    write_results(rows, repeats)


NOTES = """Notes:

- The floor itself moves by up to 25% between runs on this 2-core machine (3.4 s to 4.4 s for 16,000 chunks);
  rounds are interleaved and compared pairwise for that reason. Messages, bytes and latency are stable.
- CPU: 1.04x the floor at 16,000 chunks and 1.14x at 4,000, where re-sending the whole Markdown ten times a
  second measured 1.10x in the same rounds. Seconds are noisy here, so instructions were counted too
  (`bash benchmarks/instructions.sh`, valgrind's callgrind, the emulator in its own process): the same stream
  through qwen-jupyter's backend, result and cell view costs 1.07x to 1.08x the instructions of the bare openai
  loop at 4,000 chunks and 1.09x at 16,000 (see below). The fixed cost of a `%%qwen` cell is 3-5 ms (measured on a
  400-character answer), so the difference at 4,000 is per chunk or noise; earlier runs of the same code ranged
  over +-0.1. Layer by layer (medians of interleaved rounds, 8,000 chunks): our backend 0.99x, plus the result
  fold 1.07x, plus the cell view 1.16x. A cProfile in the kernel puts about 6% of the cell's time in
  qwen_jupyter code; the openai SDK's chunk parsing (pydantic `construct`) and socket reads dominate, as in the
  bare loop. Not keeping the raw chunks (an experiment, not an option) made no measurable difference.
- Found and fixed on the way: `getattr` on an undeclared pydantic field raised and caught an AttributeError on
  every text chunk; per-chunk scans for the finish event; a character loop over every piece of text.
- The cyclic garbage collector was the largest overhead found: a result keeps every chunk (`raw`, a dozen
  GC-tracked objects each) and the session keeps every result, so collections during later streams walked them
  all (1.5x at 16,000 chunks). Collection is paused while a stream runs and resumes when it ends.
- `%load_ext qwen_jupyter` takes 0.04-0.06 s; neither SDK is imported until the first request."""


def write_results(rows: list[dict], repeats: int) -> None:
    lines = [
        "# Streaming display benchmark",
        "",
        f"`python benchmarks/stream_display.py` on {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores; the emulator "
        "streams 4-character chunks, one a millisecond, into a real ipykernel (Chat Completions API). CPU is the "
        f"kernel's process time for the cell, median of {repeats} rounds in which every way runs once, in turn, "
        "after a full garbage collection; \"vs bare SDK\" is the median of each round's ratio to that round's bare "
        "loop. Messages and bytes are the display messages (display_data, update_display_data, clear_output) seen "
        "on IOPub; \"most in one second\" is the worst round.",
        "",
        "| chunks (answer) | way of showing the stream | CPU | CPU vs bare SDK | display messages | most in one second "
        "| bytes vs answer | first token shown after SDK yield |",
        "|---|---|---|---|---|---|---|---|",
    ]
    names = {"bare": "bare `openai` loop, no display (the floor)",
             "every_chunk": "whole Markdown re-sent on every chunk (chatlab's way)",
             "throttled_10": "whole Markdown re-sent at most 10 times a second",
             "qwen_cell_view": "**qwen-jupyter cell view** (`%%qwen`)"}
    for r in rows:
        ratio = r["ratio"]
        latency = "—" if r["latency_ms"] is None else f"{r['latency_ms']:.1f} ms"
        messages = "—" if r["mode"] == "bare" else str(r["messages"])
        per_second = "—" if r["mode"] == "bare" else str(r["per_second"])
        size = "—" if r["mode"] == "bare" else f"{r['bytes'] / r['answer']:.1f}x"
        lines.append(f"| {r['chunks']:,} ({r['answer'] // 1000} KB) | {names[r['mode']]} | {r['cpu_median']:.2f} s "
                     f"| {ratio:.2f}x | {messages} | {per_second} | {size} | {latency} |")
    lines += ["", "Targets for the cell view (issue 3): CPU at most 1.10x the floor; at most 12 display messages in "
              "any second; display bytes at most 5x the answer at 16,000 chunks; first token shown within 30 ms of "
              "the SDK yielding it.", "", NOTES]
    (Path(__file__).parent / "RESULTS.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
