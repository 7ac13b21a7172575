"""How long map() takes, and how many requests it sends, when the service throttles or fails (issue 17).

    python benchmarks/map_failures.py        # prints a Markdown table

The emulator runs in this process (its own thread and event loop); a first small call warms the imports.
Scenarios:
- no faults: the same 120 rows, for what this machine allows at that moment.
- sporadic throttling: 120 rows at concurrency 8, every request held 100 ms, one in ten answered 429 with
  Retry-After 0 (the `every` fault). Ideal: 120 / 8 × 0.1 s = 1.5 s.
- 401 on every row: 200 rows, the key refused.
- 500 on every row: 10 rows against a service that answers 500.
- 429 storm: 10 rows, every request throttled (Retry-After 1, the emulator's default).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import qwen_jupyter  # noqa: E402
from qwen_jupyter.emulator import Emulator  # noqa: E402

SCENARIOS = [
    ("no faults", 120, "qwen-plus~delay=0.1"),
    ("sporadic throttling (1 in 10, Retry-After 0)", 120, "qwen-plus~delay=0.1,429,every=10,retry-after=0"),
    ("401 on every row", 200, "qwen-plus~401"),
    ("500 on every row", 10, "qwen-plus~500"),
    ("429 on every row (Retry-After 1)", 10, "qwen-plus~429"),
]


def scenario(emu: Emulator, folder: str, rows: int, model: str) -> tuple[float, int, str]:
    """Seconds, requests sent and how the call ended."""
    emu.state.received.clear()
    started = time.perf_counter()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            out = qwen_jupyter.map([f"row {i}" for i in range(rows)], "Say {text}", model=model, concurrency=8,
                                   base_url=emu.url, api_key="sk-emulator", progress=False,
                                   db=os.path.join(folder, f"{time.monotonic_ns()}.db"))
        ended = f"returned, {int(out['answer_error'].notna().sum())} rows failed"
    except qwen_jupyter.QwenError as error:
        ended = f"QwenError: {error.message[:60]}…"
    return time.perf_counter() - started, len(emu.received), ended


def main() -> None:
    with Emulator() as emu, tempfile.TemporaryDirectory() as folder:
        scenario(emu, folder, 2, "qwen-plus")  # the SDK and the store's first use, outside the timings
        print("| scenario | rows | seconds | requests sent | ended |\n|---|---:|---:|---:|---|")
        for name, rows, model in SCENARIOS:
            seconds, sent, ended = scenario(emu, folder, rows, model)
            print(f"| {name} | {rows} | {seconds:.2f} | {sent} | {ended} |")


if __name__ == "__main__":
    main()
