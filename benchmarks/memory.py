"""Memory a finished result keeps per streamed chunk, on each API (issue 9: at most 400 bytes).

    python benchmarks/memory.py [CHUNKS]          # prints a Markdown table (copied into RESULTS.md)

The emulator streams CHUNKS 4-character chunks; tracemalloc measures what is still allocated after the result
is read to its end and the garbage collector has run, minus what was allocated before the request. The result
is kept alive (as `_qwen` and the session keep it). Reading `raw` afterwards builds the SDK objects: measured
separately, as the cost a person pays only when they look.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import qwen_jupyter  # noqa: E402
from qwen_jupyter.emulator import Emulator  # noqa: E402


def retained(emu: Emulator, api: str, chunks: int) -> tuple[float, int]:
    model = f"qwen-plus~long={chunks * 4},chunk=4"
    qwen_jupyter.chat("warm", api=api, base_url=emu.url, api_key="sk-emulator").wait()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    result = qwen_jupyter.chat("go", model=model, api=api, base_url=emu.url, api_key="sk-emulator")
    result.wait()
    gc.collect()
    kept = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert result.error is None and len(result.text) == chunks * 4
    return kept / chunks, len(result.raw)


def main() -> None:
    chunks = int(sys.argv[1]) if len(sys.argv) > 1 else 16000
    print("| API | chunks | retained per chunk | `raw` gives |")
    print("|---|---:|---:|---|")
    with Emulator() as emu:
        for api in ("openai", "responses", "dashscope"):
            per_chunk, count = retained(emu, api, chunks)
            result = qwen_jupyter.chat("x", api=api, base_url=emu.url, api_key="sk-emulator")
            kind = type(result.raw[-1]).__name__
            print(f"| {api} | {chunks:,} | {per_chunk:.0f} bytes | {count:,} SDK objects (`{kind}`) |")


if __name__ == "__main__":
    main()
