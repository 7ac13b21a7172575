"""Process CPU of the bare openai loop against qwen-jupyter's layers, interleaved rounds (seconds, so noisy).

    python -m qwen_jupyter.cli emulator --port 18766 &      # the server in its own process
    python benchmarks/cpu_layers.py http://127.0.0.1:18766 8000

Prints each way's median process time as a ratio of the bare loop's: `result` is chat() read to its end (the
backend and the result), `ours` adds the cell view publishing to a null display. See RESULTS.md.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai  # noqa: E402

import qwen_jupyter  # noqa: E402
import qwen_jupyter.backends.openai  # noqa: E402, F401
from qwen_jupyter.views.cell import CellView  # noqa: E402
from qwen_jupyter.views.html import markdown_html  # noqa: E402


class Null:
    def display(self, *args, **kwargs):
        pass

    update_display = display

    def clear_output(self, *args, **kwargs):
        pass


def main() -> None:
    url, chunks = sys.argv[1], int(sys.argv[2])
    model = f"qwen-plus~long={chunks * 4},chunk=4"
    client = openai.OpenAI(base_url=url + "/compatible-mode/v1", api_key="sk-bench", max_retries=0)

    def bare() -> None:
        for _ in client.chat.completions.create(model=model, messages=[{"role": "user", "content": "go"}],
                                                stream=True, stream_options={"include_usage": True}):
            pass

    def result() -> None:
        qwen_jupyter.chat("go", model=model, base_url=url, api_key="sk-bench").wait()

    def ours() -> None:
        answer = qwen_jupyter.chat("go", model=model, base_url=url, api_key="sk-bench")
        view = CellView(publisher=Null())
        view.run(answer)
        view.finish(answer)

    markdown_html("warm")
    ways = {"bare": bare, "result": result, "ours": ours}
    for way in ways.values():
        way()
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(5):
        for name, way in ways.items():
            gc.collect()
            start = time.process_time()
            way()
            times[name].append(time.process_time() - start)
    floor = statistics.median(times["bare"])
    print({name: round(statistics.median(values) / floor, 3) for name, values in times.items()},
          f"bare {floor:.2f} s")


if __name__ == "__main__":
    main()
