"""classify() cascades and throughput against the emulator (issue 20).

    python benchmarks/operators.py [ROWS]     # default 10000; prints Markdown for benchmarks/RESULTS.md

The emulator runs in its own process (`qwen-jupyter emulator`) and waits 50 ms before each answer (the `delay`
fault, through the model name). Two measurements:

1. The cascade. The cheap model is `qwen-flash~unsure=0.3`: the emulator is unsure on the rows whose text hashes
   below 0.3 (qwen_jupyter.emulator.choices.unsure), and sure on the others. The cascade [cheap, qwen3-max] must
   send on exactly those rows: the rows answered by qwen3-max are compared with that set (both ways). Its
   estimated cost (the built-in Beijing prices) is set against every row sent to qwen3-max alone; tokens are the
   emulator's (a label answer, an instruction and a short review a row).
2. Throughput. classify() (one model) and map() over the same ROWS rows at concurrency 16 (ideal: 16 / 0.05 s =
   320 rows/s), each into a new database so every row is sent and stored; rows/s and the ratio. The issue asks
   classify() for at least 80% of map()'s.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import map_throughput  # noqa: E402 - the emulator in its own process

import qwen_jupyter  # noqa: E402
from qwen_jupyter.emulator.choices import unsure  # noqa: E402

LATENCY, CONCURRENCY, SHARE = 0.05, 16, 0.3
LABELS = ["positive", "negative", "neutral"]
WORDS = ["loved it, great value", "arrived broken, want a refund", "it is a chair, nothing more",
         "fast delivery and it works", "the worst purchase, rude staff", "fine I guess", "amazing quality",
         "late and damaged"]


def _reviews(rows: int) -> list[str]:
    return [f"{WORDS[i % len(WORDS)]} (order {i})" for i in range(rows)]


def cascade(url: str, rows: int) -> dict:
    """One cascade over `rows` reviews: the rows sent on against the emulator's unsure set, tokens and costs."""
    reviews = _reviews(rows)
    cheap, strong = f"qwen-flash~unsure={SHARE},delay={LATENCY}", f"qwen3-max~delay={LATENCY}"
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        out = qwen_jupyter.classify(reviews, "Review: {text}", LABELS, models=[cheap, strong],
                                    base_url=url, api_key="sk-emulator", db=os.path.join(scratch, "q.db"),
                                    progress=False, concurrency=CONCURRENCY, confirm=True)
        seconds = time.perf_counter() - started
    expected = {i for i, text in enumerate(reviews) if unsure(f"Review: {text}", SHARE)}
    went = set(out.index[out["label_model"] == strong])
    summary = out.attrs["qwen"]
    first, second = summary["by_model"]
    return {"rows": rows, "expected": len(expected), "went": len(went), "missed": len(expected - went),
            "extra": len(went - expected), "seconds": seconds, "cheap": first, "strong": second,
            "total": summary["total_cost"], "alone": summary["last_model_alone_cost"]}


def throughput(url: str, rows: int) -> tuple[float, float]:
    """Rows/s of classify() (one model) and of map() over the same rows, each into a new database."""
    reviews = _reviews(rows)
    model = f"qwen-plus~delay={LATENCY}"
    common = {"base_url": url, "api_key": "sk-emulator", "progress": False, "concurrency": CONCURRENCY,
              "confirm": True, "model": model}
    rates = []
    for run in (lambda db: qwen_jupyter.classify(reviews, "Review: {text}", LABELS, db=db, **common),
                lambda db: qwen_jupyter.map(reviews, "Label this review as positive, negative or neutral: {text}",
                                            db=db, **common)):
        with tempfile.TemporaryDirectory() as scratch:
            started = time.perf_counter()
            run(os.path.join(scratch, "q.db"))
            rates.append(rows / (time.perf_counter() - started))
    return rates[0], rates[1]


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    process, url = map_throughput._start_emulator()
    try:
        found = cascade(url, rows)
        labels, mapped = throughput(url, rows)
    finally:
        process.terminate()
    cheap, strong = found["cheap"], found["strong"]
    print(f"| rows | unsure (emulator) | sent on | missed | extra | cascade | {strong['model']} alone | share |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {rows:,} | {found['expected']:,} | {found['went']:,} | {found['missed']} | {found['extra']} | "
          f"¥{found['total']:.4f} | ¥{found['alone']:.4f} | {found['total'] / found['alone']:.0%} |")
    print()
    print("| model | rows asked | answers stand | input tokens | output tokens | cost (estimate) |")
    print("|---|---:|---:|---:|---:|---:|")
    for use in (cheap, strong):
        print(f"| {use['model']} | {use['rows']:,} | {use['answered']:,} | {use['input_tokens']:,} | "
              f"{use['output_tokens']:,} | ¥{use['cost']:.4f} |")
    print()
    print(f"cascade wall time: {found['seconds']:.1f} s")
    print()
    print("| rows | classify() rows/s | map() rows/s | classify / map |")
    print("|---:|---:|---:|---:|")
    print(f"| {rows:,} | {labels:.0f} | {mapped:.0f} | {labels / mapped:.0%} |")


if __name__ == "__main__":
    main()
