"""Display bytes and time of the cell view for texts that used to defeat block sealing (issue 8).

    python benchmarks/display_linear.py          # prints a Markdown table (copied into RESULTS.md)

Each text streams as fast as events can be made, through QwenResult and the cell view, into a publisher that
counts the bytes of every display message (what IOPub would carry); the finished result's own output is the
last message. Three shapes: unbroken base64-like text (no space, no newline), a paragraph per chunk (every chunk
ends exactly on its blank line), and ordinary prose in 4-character chunks. Sizes: 200 kB and 10 MB.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qwen_jupyter.core.events import Finished, Started, TextDelta, Usage  # noqa: E402
from qwen_jupyter.core.result import QwenResult  # noqa: E402
from qwen_jupyter.views.cell import CellView  # noqa: E402


class CountingDisplay:
    def __init__(self) -> None:
        self.bytes = self.messages = self.largest = 0

    def display(self, bundle, raw=True, display_id=None):
        size = sum(len(value.encode()) for value in bundle.values())
        self.bytes += size
        self.largest = max(self.largest, size)
        self.messages += 1

    update_display = display

    def clear_output(self, wait=False):
        self.messages += 1


def shapes(size: int) -> dict[str, list[str]]:
    paragraph = "Each paragraph arrives as one chunk and ends on its blank line. " * 4 + "\n\n"
    prose = ("The sky is blue because air scatters short wavelengths more than long ones, *Rayleigh* "
             "scattering, as `I ~ 1/λ⁴` says.\n\n") * (size // 100 + 1)
    return {
        "unbroken (base64-like)": ["QUJD" * 25] * (size // 100),
        "a paragraph per chunk": [paragraph] * (size // len(paragraph)),
        "prose, 4-character chunks": [prose[i:i + 4] for i in range(0, size, 4)],
    }


def measure(chunks: list[str]) -> tuple[int, float, CountingDisplay]:
    events = [Started("qwen-plus", "bench"), *map(TextDelta, chunks), Usage(1, 1, 2), Finished("stop")]
    display = CountingDisplay()
    start = time.perf_counter()
    view = CellView(publisher=display)
    result = QwenResult(iter(events), max_answer_chars=100_000_000)
    view.run(result)
    view.finish(result)
    return len(result.text.encode()), time.perf_counter() - start, display


def main() -> None:
    print("| text | answer | display bytes vs answer | display messages | largest message | time |")
    print("|---|---:|---:|---:|---:|---:|")
    for size in (200_000, 10_000_000):
        for name, chunks in shapes(size).items():
            answer, seconds, display = measure(chunks)
            print(f"| {name} | {answer / 1e6:.1f} MB | {display.bytes / answer:.2f}x | {display.messages} "
                  f"| {display.largest / 1e6:.2f} MB | {seconds:.1f} s |")


if __name__ == "__main__":
    main()
