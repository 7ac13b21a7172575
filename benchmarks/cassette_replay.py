"""How fast a long cassette replays: load time and time to the first streamed token.

    python benchmarks/cassette_replay.py      # prints the numbers; copy them to RESULTS.md
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import qwen_jupyter  # noqa: E402
from qwen_jupyter.core.events import TextDelta  # noqa: E402
from qwen_jupyter.emulator import Emulator  # noqa: E402
from qwen_jupyter.emulator.cassette import Cassette  # noqa: E402
from qwen_jupyter.emulator.proxy import RecordingProxy  # noqa: E402


def main() -> None:
    model = "qwen-plus~long=40000,chunk=4,slow=0.0002"  # 10,000 chunks
    path = os.path.join(tempfile.mkdtemp(), "long.jsonl")
    with Emulator() as upstream, RecordingProxy(upstream.url, path) as proxy:
        recorded = qwen_jupyter.chat("go", model=model, base_url=proxy.url, api_key="sk-bench").wait()
    size = os.path.getsize(path)
    started = time.perf_counter()
    cassette = Cassette.load(path)
    loaded = time.perf_counter() - started
    chunks = sum(len(i.chunks) for i in cassette.interactions)
    started = time.perf_counter()
    with Emulator(cassette=path) as replaying:
        ready = time.perf_counter() - started
        result = qwen_jupyter.chat("go", model=model, base_url=replaying.url, api_key="sk-bench")
        asked = time.perf_counter()
        first = next(time.perf_counter() - asked for e in result if isinstance(e, TextDelta))
        result.wait()
        total = time.perf_counter() - asked
    assert result.text == recorded.text
    print(f"cassette: {size / 1e6:.1f} MB, {len(recorded.raw)} SDK chunks recorded as {chunks} lines")
    print(f"load {loaded * 1000:.0f} ms; emulator ready {ready * 1000:.0f} ms; first token {first * 1000:.0f} ms; "
          f"whole replay {total:.2f} s (pace 0: as fast as possible)")


if __name__ == "__main__":
    main()
