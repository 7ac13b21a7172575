"""map(): a prompt template over every row of a table; a new DataFrame with the answers, usage and errors.

Every finished row is stored (SQLite) under the key of its request's content, as it completes: running the same
call again (after an interrupt, an error or a kernel restart) sends only the rows without an answer, and identical
rows are sent once. Live runs go through runner.py; batch=True through the Batch API (batch.py).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from ..errors import Interrupted, QwenError
from ..models import model_info
from ..request import build_request
from ..routing import route
from ..settings import Settings
from ..store import Store
from . import batch as batches
from .progress import Progress
from .rows import frame_of, prompts, records
from .runner import Row, Runner, run_in_thread
from .schema import Schema

DEFAULT_MODEL = "qwen-plus"
PREVIEW_ABOVE = 1000  # more requests than this: show the preview and ask for confirm=True
CONNECTION = ("api", "region", "base_url", "workspace", "api_key", "timeout", "max_retries", "offline", "cassette",
              "cassette_mode")


@dataclass(frozen=True, repr=False)
class Preview:
    """What a map() call would send: rows, requests still to send, estimated input tokens, and the cost when
    prices are configured (model -> {"input": …, "output": …} per million tokens; none are built in)."""

    model: str
    rows: int
    requests: int
    stored: int
    input_tokens: int
    batch: bool
    input_cost: float | None = None

    def __str__(self) -> str:
        cost = "set prices= to see the cost" if self.input_cost is None else \
            f"input cost ≈ {self.input_cost:,.4f} at your prices{' (batch: half price)' if self.batch else ''}, " \
            "output not included"
        return (f"{self.model}{' via the Batch API' if self.batch else ''}: {self.rows:,} rows, {self.requests:,} "
                f"requests to send ({self.stored:,} already answered), ~{self.input_tokens:,} input tokens "
                f"(estimated); {cost}.")

    def __repr__(self) -> str:
        return "map() preview: " + str(self)

    def _repr_markdown_(self) -> str:
        return "**map() preview** — " + str(self)


def estimate_tokens(text: str) -> int:
    """A rough input-token count: about four ASCII characters a token, one token per other character."""
    wide = sum(1 for char in text if ord(char) > 127)
    return math.ceil((len(text) - wide) / 4) + wide


def _key(where: str, body: dict[str, Any]) -> str:
    content = json.dumps([where, body], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()[:32]


def _where(settings: Settings) -> str:
    """Answers are reused from the same place only: the emulator's never stand in for Model Studio's."""
    return "emulator" if settings.route in ("emulator", "replay") else settings.host


def _thinking(model: str, think: bool | None) -> bool | None:
    if think:
        raise QwenError("map() sends non-streamed requests (as the Batch API does), and thinking needs a stream; "
                        "leave think off.", code="InvalidOption", hint="")
    return False if model_info(model).hybrid else None


def _plan(frame: Any, template: str, model: str, schema: Schema | None, system: str | None, think: bool | None,
          namespace: dict[str, Any] | None, raw: bool, settings: Settings,
          options: dict[str, Any]) -> tuple[list[str], dict[str, Row]]:
    """Each row's key (in row order) and the distinct requests by key."""
    from ..backends.completions import body

    instruction = "\n\n".join(part for part in (system, schema.instruction if schema else None) if part) or None
    thinking, where = _thinking(model, think), _where(settings)
    overhead = estimate_tokens(instruction or "")
    keys, distinct = [], {}
    for prompt in prompts(template, records(frame), namespace, raw):
        sent = body(build_request(model, prompt, system=instruction, thinking=thinking,
                                  json_mode=schema is not None, **options))
        key = _key(where, sent)
        keys.append(key)
        if key not in distinct:
            distinct[key] = Row(key, sent, overhead + estimate_tokens(prompt))
    return keys, distinct


def _price(prices: dict[str, Any] | None, model: str, tokens: int, batch: bool) -> float | None:
    price = (prices or {}).get(model)
    if not price:
        return None
    per_million = price["input"] if isinstance(price, dict) else price[0]
    return tokens / 1e6 * per_million * (0.5 if batch else 1.0)


def assemble(frame: Any, keys: list[str], answers: dict[str, dict[str, Any]], schema: Schema | None,
             into: str) -> Any:
    """The input frame plus the answers (one column, or one per schema field), token counts and errors."""
    out = frame.copy()
    found = [answers.get(key) for key in keys]
    errors = [a["error"] if a else "Not sent yet." for a in found]
    if schema is None:
        out[into] = [a["text"] if a and not a["error"] else None for a in found]
    else:
        values = []
        for number, answer in enumerate(found):
            try:
                values.append(schema.parse(answer["text"]) if answer and not answer["error"] else {})
            except ValueError as exc:
                values.append({})
                errors[number] = f"The answer does not match the schema ({exc})."
        for field in schema.fields:
            out[field] = [v.get(field) for v in values]
    out[f"{into}_input_tokens"] = [(a["usage"].get("input_tokens") if a else None) for a in found]
    out[f"{into}_output_tokens"] = [(a["usage"].get("output_tokens") if a else None) for a in found]
    out[f"{into}_error"] = errors
    return out


def _summary(out: Any, into: str, model: str, sent: int, emulated: bool) -> dict[str, Any]:
    failed = int(out[f"{into}_error"].notna().sum())
    summary = {"model": model, "rows": len(out), "sent": sent, "failed": failed, "emulated": emulated,
               "input_tokens": int(out[f"{into}_input_tokens"].fillna(0).sum()),
               "output_tokens": int(out[f"{into}_output_tokens"].fillna(0).sum())}
    if failed:
        print(f"{failed} of {len(out)} rows failed (their errors are in the {into}_error column); run the same "
              "call again to send only those.")
    return summary


def run_map(data: Any, template: str, settings: Settings, store: Store, *, model: str = DEFAULT_MODEL,
            concurrency: int = 8, into: str = "answer", schema: Any = None, batch: bool = False,
            system: str | None = None, think: bool | None = None, dry_run: bool = False,
            preview_above: int | None = PREVIEW_ABOVE, confirm: bool = False, prices: dict[str, Any] | None = None,
            rpm: float | None = None, tpm: float | None = None, progress: bool = True,
            namespace: dict[str, Any] | None = None, raw: bool = False, batch_lines: int = batches.MAX_LINES,
            confirm_hint: str = "pass confirm=True to send them (or raise preview_above)", **options: Any) -> Any:
    """map() with the settings and store decided (the magic calls this with its own)."""
    frame = frame_of(data)
    shape = Schema(schema) if schema is not None else None
    keys, distinct = _plan(frame, template, model, shape, system, think, namespace, raw, settings, options)
    stored = store.answers(list(distinct))
    todo = [row for key, row in distinct.items() if key not in stored or stored[key]["error"]]
    tokens = sum(r.tokens for r in todo)
    preview = Preview(model, len(keys), len(todo), len(distinct) - len(todo), tokens, batch,
                      _price(prices, model, tokens, batch))
    if dry_run:
        return preview
    if preview_above is not None and len(todo) > preview_above and not confirm:
        raise QwenError(f"{preview} That is more than {preview_above:,} requests: {confirm_hint}.",
                        code="InvalidOption", hint="")
    if todo and batch:
        spec = {"model": model, "into": into, "schema": shape.json_schema if shape else None, "keys": keys,
                "rows": json.loads(frame.to_json(orient="records", date_format="iso", default_handler=str))}
        job_id = batches.submit(settings, store, todo, spec, batch_lines)
        print(f"Batch job {job_id}: {len(todo):,} rows; if the kernel restarts, "
              f"qwen_jupyter.batch_result({job_id!r}) picks it up.")
        stored_job = batches.wait(settings, store, batches.job(store, job_id), progress)
        batches.collect(settings, store, stored_job)
    elif todo:
        _live(settings, store, todo, model, concurrency, rpm, tpm, shape, progress)
    answers = store.answers(list(distinct))
    out = assemble(frame, keys, answers, shape, into)
    out.attrs["qwen"] = _summary(out, into, model, len(todo), any(a["emulated"] for a in answers.values()))
    return out


def _live(settings: Settings, store: Store, todo: list[Row], model: str, concurrency: int, rpm: float | None,
          tpm: float | None, schema: Schema | None, show: bool) -> None:
    """Send the rows concurrently with a progress bar; an interrupt keeps what finished and says how to resume."""

    def check(text: str) -> str | None:
        try:
            schema.parse(text)  # type: ignore[union-attr]
        except ValueError as exc:
            return str(exc)
        return None

    runner = Runner(settings, todo, lambda e: store.save_answers([e]), concurrency=concurrency, rpm=rpm, tpm=tpm,
                    check=check if schema else None)
    bar = Progress(len(todo), model + (" (emulated)" if settings.route != "live" else ""), show)
    stats = runner.stats
    try:
        run_in_thread(runner.run(), lambda: bar.show(stats.done, stats.failed, stats.tokens,
                                                     f"{stats.retries} retried" if stats.retries else ""))
    except KeyboardInterrupt:
        raise Interrupted(f"Stopped after {stats.done + stats.failed:,} of {stats.total:,} rows; every finished row "
                          "is stored, so the same call sends only the rest.") from None
    finally:
        bar.close()


def map(data: Any, template: str, *, model: str | None = None, concurrency: int = 8, into: str = "answer",  # noqa: A001
        batch: bool = False, schema: Any = None, db: str | None = None, **options: Any) -> Any:
    """Run a prompt template over every row of a DataFrame (or a list of dicts or strings); a new DataFrame."""
    connection = {name: options.pop(name) for name in CONNECTION if name in options}
    settings = route(**connection)
    store = Store(db)
    try:
        return run_map(data, template, settings, store, model=model or DEFAULT_MODEL, concurrency=concurrency,
                       into=into, batch=batch, schema=schema, **options)
    finally:
        store.close()


def batch_result(job_id: str, *, wait: bool = True, progress: bool = True, db: str | None = None,
                 **connection: Any) -> Any:
    """The DataFrame of a batch job map() started (by job or batch id), waiting for it to end unless wait=False."""
    settings = route(**connection)
    store = Store(db)
    try:
        stored = batches.job(store, job_id)
        if stored["status"] != "collected":
            stored = batches.wait(settings, store, stored, progress) if wait else batches.refresh(settings, store,
                                                                                                    stored)
            if all(b["status"] in batches.TERMINAL for b in stored["batches"]):
                batches.collect(settings, store, stored)
        spec = stored["spec"]
        import pandas as pd

        frame = pd.DataFrame.from_records(spec["rows"])
        shape = Schema(spec["schema"]) if spec.get("schema") else None
        answers = store.answers(sorted(set(spec["keys"])))
        out = assemble(frame, spec["keys"], answers, shape, spec["into"])
        out.attrs["qwen"] = _summary(out, spec["into"], spec["model"], 0, any(a["emulated"] for a in answers.values()))
        return out
    finally:
        store.close()


def batch_cancel(job_id: str, *, db: str | None = None, **connection: Any) -> None:
    """Cancel a batch job map() started; rows it finished before are kept."""
    store = Store(db)
    try:
        stored = batches.cancel(route(**connection), store, job_id)
        print(f"Batch job {stored['id']}: " + ", ".join(f"{b['id']} {b['status']}" for b in stored["batches"]))
    finally:
        store.close()
