"""Memory and time of map() as rows grow: planning (dry_run=True), a live run and a batch run (issue 17).

    python benchmarks/map_scale.py [ROWS ...]           # default: 10000 100000 500000 1000000
    python benchmarks/map_scale.py --live 10000 100000  # also send every row (no latency) and build the frame
    python benchmarks/map_scale.py --batch 10000 100000 # also through the Batch API

Each measurement runs in a fresh Python process: it builds the input table (rows of ~60 characters, one column),
notes its resident size, resets the peak (VmHWM), runs the call, and reports the peak beyond that, less the
returned DataFrame's own size: memory map() holds besides the input and output frames. The emulator for live and
batch runs is its own process (`qwen-jupyter emulator`), as the service would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def measure(rows: int, mode: str, url: str, folder: str) -> dict[str, float]:
    """In this (fresh) process: the peak beyond the input, less the returned frame, and the seconds."""
    import map_throughput  # the resident-size reader
    import pandas as pd

    import qwen_jupyter

    frame = pd.DataFrame({"text": [f"support ticket number {i}: the printer on floor {i % 7} is jammed"
                                   for i in range(rows)]})
    qwen_jupyter.map(frame.head(2), "Route this ticket to a team: {text}", dry_run=True, offline="on",
                     db=os.path.join(folder, "warm.db"))  # imports and the store, before the baseline
    baseline = map_throughput._rss_mb()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # the peak resident size starts again from here (Linux), not from building the input
    started = time.perf_counter()
    out = qwen_jupyter.map(frame, "Route this ticket to a team: {text}", base_url=url, api_key="sk-emulator",
                           db=os.path.join(folder, f"{mode}.db"), concurrency=16, confirm=True, progress=False,
                           dry_run=mode == "plan", batch=mode == "batch")
    seconds = time.perf_counter() - started
    with open("/proc/self/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) * 1024 / 1e6  # kB
    frame_mb = 0.0 if mode == "plan" else out.memory_usage(deep=True).sum() / 1e6
    return {"seconds": seconds, "beyond": peak - baseline - frame_mb, "frame": frame_mb}


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        rows, mode, url, folder = int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
        print(json.dumps(measure(rows, mode, url, folder)))
        return
    modes = ["plan"] + [m.removeprefix("--") for m in sys.argv[1:] if m in ("--live", "--batch")]
    sizes = [int(a) for a in sys.argv[1:] if a.isdigit()] or [10_000, 100_000, 500_000, 1_000_000]
    import map_throughput  # the emulator process

    process, url = map_throughput._start_emulator()
    try:
        print("| rows | " + " | ".join(f"{m}: seconds | {m}: MB beyond the frames" for m in modes) + " |")
        print("|---:|" + "---:|---:|" * len(modes))
        for rows in sizes:
            cells = []
            for mode in modes:
                with tempfile.TemporaryDirectory() as folder:
                    child = subprocess.run([sys.executable, __file__, "--child", str(rows), mode, url, folder],
                                           capture_output=True, text=True, check=True)
                result = json.loads(child.stdout.strip().splitlines()[-1])
                cells += [f"{result['seconds']:.1f}", f"{result['beyond']:.0f}"]
            print(f"| {rows:,} | " + " | ".join(cells) + " |", flush=True)
    finally:
        process.terminate()


if __name__ == "__main__":
    main()
