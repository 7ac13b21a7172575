"""Resident memory of one map() call over many rows, sampled while the rows are sent (issue 12).

    python benchmarks/map_memory.py [ROWS]      # default 30000; the emulator in its own process, no latency

Prints the resident size about every 5 s: it rises while the input is built and the rows are planned (a 16-byte
key a row since issue 17; each row's request body before), stays level while they are sent and stored (each
answer goes to SQLite, nothing is kept per answer), and rises again at the end when the returned DataFrame is
built. benchmarks/map_scale.py measures the same against the number of rows.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import map_throughput  # noqa: E402 - the emulator process and the resident-size reader

import qwen_jupyter  # noqa: E402


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000
    process, url = map_throughput._start_emulator()
    try:
        with tempfile.TemporaryDirectory() as folder:
            data = [{"text": f"support ticket number {i}: the printer on floor {i % 7} is jammed"} for i in range(rows)]
            samples: list[tuple[float, float]] = []
            running = threading.Event()
            running.set()
            started = time.perf_counter()

            def sample() -> None:
                while running.is_set():
                    samples.append((time.perf_counter() - started, map_throughput._rss_mb()))
                    time.sleep(0.25)

            threading.Thread(target=sample, daemon=True).start()
            out = qwen_jupyter.map(data, "Route this ticket to a team: {text}", base_url=url, api_key="sk-emulator",
                                   db=os.path.join(folder, "rows.db"), model="qwen-plus", concurrency=16,
                                   confirm=True, progress=False)
            running.clear()
            assert out["answer_error"].isna().all() and len(out) == rows
            print("| seconds | resident MB |\n|---:|---:|")
            shown = -5.0
            for seconds, megabytes in samples:
                if seconds - shown >= 5:
                    print(f"| {seconds:.1f} | {megabytes:.1f} |")
                    shown = seconds
            print(f"| {samples[-1][0]:.1f} (DataFrame built) | {samples[-1][1]:.1f} |")
    finally:
        process.terminate()


if __name__ == "__main__":
    main()
