"""map(): a prompt template over every row of a table; a new DataFrame with the answers, usage and errors.

Every finished row is stored (SQLite) under the key of its request's content, as it completes: running the same
call again (after an interrupt, an error or a kernel restart) sends only the rows without an answer, and identical
rows are sent once. Live runs go through runner.py; batch=True through the Batch API (batch.py).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..core.errors import Interrupted, QwenError
from ..core.models import DEFAULT_MODEL, model_info
from ..core.request import build_request
from ..core.settings import Settings, configured
from ..engine.routing import route
from ..state.store import Store
from . import batch as batches
from .progress import Progress
from .rows import Template, frame_of
from .runner import Row, Runner, Stop, run_in_thread
from .schema import Schema

PREVIEW_ABOVE = 1000  # more requests than this: show the preview and ask for confirm=True
LOOKUP = 5000  # rows (or keys) looked up in the store at a time
NOT_SENT = bytes(16)  # a plan's key for a row not sent (a real one is a hash: never all zeros in practice)
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


class Requests:
    """Each row's request, built when it is needed (planned, sent, written to a batch file) and then let go: the
    Chat Completions body, its content key and its estimated input tokens."""

    def __init__(self, template: Template, model: str, schema: Schema | None, system: str | None,
                 think: bool | None, settings: Settings, options: dict[str, Any]) -> None:
        self.template, self.model, self.schema, self.options = template, model, schema, options
        self.instruction = "\n\n".join(p for p in (system, schema.instruction if schema else None) if p) or None
        self.thinking, self.where = _thinking(model, think), _where(settings)
        self.overhead = estimate_tokens(self.instruction or "")

    def rows(self, positions: Any) -> Iterator[Row]:
        """The request of each row at these positions, in order."""
        from ..backends.completions import body

        for prompt in self.template.prompts(positions):
            sent = body(build_request(self.model, prompt, system=self.instruction, thinking=self.thinking,
                                      json_mode=self.schema is not None, **self.options))
            yield Row(_key(self.where, sent), sent, self.overhead + estimate_tokens(prompt))


def hex_key(key: Any) -> str:
    """A request key as the store writes it, from its 16 bytes in a plan ("" for a row not sent)."""
    raw = key.tobytes()
    return "" if raw == NOT_SENT else raw.hex()


@dataclass
class Plan:
    """What a call asks, without the requests themselves: each row's request key (16 bytes, the 32 hex digits of
    _key; zeros for a row not sent, with the reason in `missing`), the positions of the rows to send (the first
    row of each distinct request without an answer), how many distinct requests there are, and the estimated
    input tokens still to send."""

    keys: Any
    missing: dict[int, str]
    todo: Any
    distinct: int
    tokens: int


def _digest(keys: Any) -> str:
    """The identity of a call's requests, row by row (to recognise map()'s own output)."""
    return hashlib.sha256(keys.tobytes()).hexdigest()[:32]


def _plan(requests: Requests, store: Store) -> Plan:
    """Every row's key, a row at a time (nothing of a request is kept), then which distinct requests are answered."""
    import numpy as np

    frame, missing = requests.template.frame, requests.template.missing()
    keys, tokens = np.zeros(len(frame), dtype="V16"), np.zeros(len(frame), dtype=np.int32)
    if missing:
        sendable = np.ones(len(frame), dtype=bool)
        sendable[list(missing)] = False
        positions: Any = np.flatnonzero(sendable)
    else:
        positions = range(len(frame))
    for position, row in zip(positions, requests.rows(positions), strict=True):
        keys[position], tokens[position] = bytes.fromhex(row.key), row.tokens
    distinct, first = np.unique(keys, return_index=True)
    if missing:  # the zeros of the rows not sent sort first
        distinct, first = distinct[1:], first[1:]
    answered = np.zeros(len(distinct), dtype=bool)
    for start in range(0, len(distinct), LOOKUP):
        chunk = [key.tobytes().hex() for key in distinct[start:start + LOOKUP]]
        found = store.answered(chunk)
        answered[start:start + LOOKUP] = [key in found for key in chunk]
    todo = np.sort(first[~answered])
    return Plan(keys, missing, todo, len(distinct), int(tokens[todo].sum()))


def _price(prices: dict[str, Any] | None, model: str, tokens: int, batch: bool) -> float | None:
    price = (prices or {}).get(model)
    if not price:
        return None
    per_million = price["input"] if isinstance(price, dict) else price[0]
    return tokens / 1e6 * per_million * (0.5 if batch else 1.0)


def _columns(into: str, schema: Schema | None) -> list[str]:
    """The columns map() adds: the answers (one column, or one per schema field), token counts and errors."""
    return [*(schema.fields if schema else [into]), f"{into}_input_tokens", f"{into}_output_tokens", f"{into}_error"]


def _written(frame: Any, columns: list[str]) -> str:
    """A digest of what map() wrote in its columns (to notice a person's edits)."""
    import pandas as pd

    part = frame[columns]
    try:
        hashes = pd.util.hash_pandas_object(part, index=False)
    except TypeError:  # unhashable values (a schema field that is a list): compare their text
        hashes = pd.util.hash_pandas_object(part.astype(str), index=False)
    return hashlib.sha256(hashes.to_numpy().tobytes()).hexdigest()[:32]


def _own(frame: Any, columns: list[str]) -> bool:
    """Whether the frame's copies of these columns are the ones an earlier map() returned, unchanged since."""
    made = frame.attrs.get("qwen") or {}
    return made.get("columns") == columns and made.get("written") == _written(frame, columns)


def _clash(frame: Any, columns: list[str], into: str, schema: Schema | None) -> QwenError | None:
    """A person's column that map() would write over, as a one-line error (None when there is none)."""
    twice = [name for name in columns if columns.count(name) > 1]
    if twice:
        return QwenError(f"The schema's field {twice[0]!r} has the name of a column map() adds for into={into!r}; "
                         "pick another into=.", code="InvalidInput", hint="")
    taken = [name for name in columns if name in frame.columns]
    if not taken:
        return None
    if schema is not None and taken[0] in schema.fields:
        return QwenError(f"The frame already has a column {taken[0]!r}, a field of the schema; map() never "
                         "replaces a column you have: rename the column or the field (into= names only the "
                         "token and error columns).", code="InvalidInput", hint="")
    free = next(f"{into}_{n}" for n in range(2, 10_000)
                if not {*_columns(f"{into}_{n}", None), f"{into}_{n}"} & set(frame.columns))
    return QwenError(f"The frame already has a column {taken[0]!r}; map() never replaces a column you have (nor "
                     f"one an earlier map() of other rows or another question wrote): pick another into=, e.g. "
                     f"into={free!r}.", code="InvalidInput", hint="")


def assemble(frame: Any, keys: Any, missing: dict[int, str], store: Store, schema: Schema | None,
             into: str) -> tuple[Any, bool]:
    """The input frame plus the answers (one column, or one per schema field), token counts and errors, read
    from the store a chunk of rows at a time; and whether any answer came from the emulator."""
    import numpy as np
    import pandas as pd

    rows = len(frame)
    texts, errors = np.full(rows, None, dtype=object), np.full(rows, None, dtype=object)
    counts = {name: np.zeros(rows, dtype=np.int64) for name in ("input_tokens", "output_tokens")}
    known = {name: np.zeros(rows, dtype=bool) for name in counts}
    values = {field: np.full(rows, None, dtype=object) for field in (schema.fields if schema else ())}
    emulated = False
    for start in range(0, rows, LOOKUP):
        chunk = keys[start:start + LOOKUP]
        hexes = [hex_key(key) for key in chunk]
        found = store.answers(sorted(set(hexes) - {""}))
        for position, key in enumerate(hexes, start):
            answer = found.get(key)
            if answer is None:
                errors[position] = missing.get(position, "Not sent yet.")
                continue
            for name in counts:
                if answer["usage"].get(name) is not None:
                    counts[name][position], known[name][position] = answer["usage"][name], True
            errors[position] = answer["error"]
            emulated = emulated or answer["emulated"]
            if answer["error"]:
                continue
            if schema is None:
                texts[position] = answer["text"]
                continue
            try:
                parsed = schema.parse(answer["text"])
            except ValueError as exc:
                errors[position] = f"The answer does not match the schema ({exc})."
                continue
            for field in values:
                values[field][position] = parsed.get(field)
    out = frame.copy()
    if schema is None:
        out[into] = texts
    for field, column in values.items():
        out[field] = column.tolist()  # as a list: pandas infers each field's type
    for name in counts:
        out[f"{into}_{name}"] = pd.arrays.IntegerArray(counts[name], ~known[name])
    out[f"{into}_error"] = errors
    return out, emulated


def _finish(out: Any, digest: str, into: str, schema: Schema | None, model: str, sent: int, not_sent: int,
            emulated: bool, stop: Stop | None) -> Any:
    """The frame's summary (attrs), a line about failed rows and rows not sent; a QwenError with the frame when
    the run stopped early or every row failed."""
    columns = _columns(into, schema)
    errors = out[f"{into}_error"]
    failed = int(errors.notna().sum()) - not_sent
    answered = len(out) - failed - not_sent
    summary = {"model": model, "rows": len(out), "sent": sent, "failed": failed, "not_sent": not_sent,
               "emulated": emulated, "input_tokens": int(out[f"{into}_input_tokens"].sum()),
               "output_tokens": int(out[f"{into}_output_tokens"].sum()),
               "columns": columns, "plan": digest, "written": _written(out, columns)}
    out.attrs = {**out.attrs, "qwen": summary}  # a new dict: before pandas 2.1 a copy shared its input's attrs
    kept = f"{answered:,} of {len(out):,} rows have answers (in error.frame, and stored: the same call sends only " \
           "the rest)"
    if stop is not None:
        error = stop.error
        why = (f"the service kept failing ({stop.failing} of the last {stop.recent} requests; the latest: "
               f"{error.message})" if stop.recent else f"{error.message} {error.hint or ''}".strip())
        raised = QwenError(f"map() stopped: {why}. {kept}.", code=error.code, status=error.status,
                           request_id=error.request_id, hint="")
    elif len(out) and not answered:
        first = errors.dropna().iloc[0]
        raised = QwenError(f"map(): every row failed (the first: {first}); the errors are in error.frame's "
                           f"{into}_error column.", hint="")
    else:
        if failed:
            print(f"{failed:,} of {len(out):,} rows failed (their errors are in the {into}_error column); run the "
                  "same call again to send only those.")
        if not_sent:
            print(f"{not_sent:,} of {len(out):,} rows were not sent: they have no value in a column the template "
                  f"reads (see {into}_error).")
        return out
    raised.frame = out
    raise raised


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
    columns = _columns(into, shape)
    clash = _clash(frame, columns, into, shape)
    own = clash is not None and _own(frame, columns)  # `df = map(df, …)` run again: its own columns, unchanged
    if clash is not None and not own:
        raise clash
    requests = Requests(Template(template, frame, namespace, raw), model, shape, system, think, settings, options)
    plan = _plan(requests, store)
    if own and frame.attrs["qwen"].get("plan") != _digest(plan.keys):
        raise clash  # other rows or another question: the earlier answers are the person's now
    if len(frame) and len(plan.missing) == len(frame):
        gaps = frame[requests.template.used].isna().sum()
        named = ", ".join(f"{name!r} in {count:,} rows" for name, count in gaps.items() if count)
        raise QwenError(f"No row can be sent: the template reads columns without a value ({named}, of "
                        f"{len(frame):,}); nothing was sent.", code="InvalidInput", hint="")
    preview = Preview(model, len(frame), len(plan.todo), plan.distinct - len(plan.todo), plan.tokens, batch,
                      _price(prices, model, plan.tokens, batch))
    if dry_run:
        return preview
    if preview_above is not None and len(plan.todo) > preview_above and not confirm:
        raise QwenError(f"{preview} That is more than {preview_above:,} requests: {confirm_hint}.",
                        code="InvalidOption", hint="")
    stop = None
    if len(plan.todo) and batch:
        spec = {"model": model, "into": into, "schema": shape.json_schema if shape else None,
                "keys": [hex_key(key) for key in plan.keys], "missing": sorted(plan.missing.items()),
                "rows": frame.to_json(orient="records", date_format="iso", default_handler=str)}  # as text: once
        job_id = batches.submit(settings, store, requests.rows(plan.todo), spec, batch_lines)
        print(f"Batch job {job_id}: {len(plan.todo):,} rows; if the kernel restarts, "
              f"qwen_jupyter.batch_result({job_id!r}) picks it up.")
        stored_job = batches.wait(settings, store, batches.job(store, job_id), progress)
        batches.collect(settings, store, stored_job)
    elif len(plan.todo):
        stop = _live(settings, store, requests, plan, model, concurrency, rpm, tpm, shape, progress)
    out, emulated = assemble(frame, plan.keys, plan.missing, store, shape, into)
    return _finish(out, _digest(plan.keys), into, shape, model, len(plan.todo), len(plan.missing), emulated, stop)


def _live(settings: Settings, store: Store, requests: Requests, plan: Plan, model: str, concurrency: int,
          rpm: float | None, tpm: float | None, schema: Schema | None, show: bool) -> Stop | None:
    """Send the rows concurrently with a progress bar; an interrupt keeps what finished and says how to resume.
    Why the run stopped early, if it did."""

    def check(text: str) -> str | None:
        try:
            schema.parse(text)  # type: ignore[union-attr]
        except ValueError as exc:
            return str(exc)
        return None

    runner = Runner(settings, requests.rows(plan.todo), len(plan.todo), lambda e: store.save_answers([e]),
                    concurrency=concurrency, rpm=rpm, tpm=tpm, check=check if schema else None)
    bar = Progress(len(plan.todo), model + (" (emulated)" if settings.route != "live" else ""), show)
    stats = runner.stats
    try:
        run_in_thread(runner.run(), lambda: bar.show(stats.done, stats.failed, stats.tokens,
                                                     f"{stats.retries} retried" if stats.retries else ""))
    except KeyboardInterrupt:
        raise Interrupted(f"Stopped after {stats.done + stats.failed:,} of {stats.total:,} rows; every finished row "
                          "is stored, so the same call sends only the rest.") from None
    finally:
        bar.close(stats.failed)
    return runner.stopped


def map(data: Any, template: str, *, model: str | None = None, concurrency: int = 8, into: str = "answer",  # noqa: A001
        batch: bool = False, schema: Any = None, db: str | None = None, **options: Any) -> Any:
    """Run a prompt template over every row of a DataFrame (or a list of dicts or strings); a new DataFrame."""
    connection = {name: options.pop(name) for name in CONNECTION if name in options}
    settings = route(**connection)
    store = Store(db)
    try:
        # The notebook's settings (%config QwenMagics, where the extension is loaded) fill what was not given.
        for name, setting in (("system", "system"), ("prices", "prices"), ("preview_above", "map_preview_above")):
            if options.get(name) is None and configured(setting) is not None:
                options[name] = configured(setting)
        return run_map(data, template, settings, store, model=model or configured("model", DEFAULT_MODEL),
                       concurrency=concurrency, into=into, batch=batch, schema=schema, **options)
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
        import numpy as np
        import pandas as pd

        rows = spec["rows"]  # JSON text; a list in jobs stored before issue 17
        frame = pd.DataFrame.from_records(json.loads(rows) if isinstance(rows, str) else rows)
        shape = Schema(spec["schema"]) if spec.get("schema") else None
        keys = np.array([bytes.fromhex(key) if key else NOT_SENT for key in spec["keys"]], dtype="V16")
        missing = dict(spec.get("missing") or [])
        out, emulated = assemble(frame, keys, missing, store, shape, spec["into"])
        out = _finish(out, _digest(keys), spec["into"], shape, spec["model"], 0, len(missing), emulated, None)
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
