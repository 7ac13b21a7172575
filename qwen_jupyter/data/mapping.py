"""map(): a prompt template over every row of a table; a new DataFrame with the answers, usage and errors.

Every finished row is stored (SQLite) under the key of its request's content, as it completes: running the same
call again (after an interrupt, an error or a kernel restart) sends only the rows without an answer, and identical
rows are sent once. Live runs go through runner.py; batch=True through the Batch API (batch.py).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..core.errors import Interrupted, QwenError
from ..core.models import DEFAULT_MODEL, model_info
from ..core.prices import EXPLICIT_MIN_TOKENS, explicit_cache, money, price_of
from ..core.request import build_request
from ..core.settings import Settings, configured
from ..engine.routing import route
from ..state.store import Store
from . import batch as batches
from .progress import Progress
from .rows import Template, frame_of
from .runner import Row, Runner, Stop, run_in_thread
from .schema import Schema

CONFIRM_HINT = "pass confirm=True to send them (or raise preview_above)"
PREVIEW_ABOVE = 1000  # more requests than this: show the preview and ask for confirm=True
LOOKUP = 5000  # rows (or keys) looked up in the store at a time
CACHE_MARK = {"type": "ephemeral"}  # the explicit context cache's marker on a content part
NOT_SENT = bytes(16)  # a plan's key for a row not sent (a real one is a hash: never all zeros in practice)
CONNECTION = ("api", "region", "base_url", "workspace", "api_key", "timeout", "max_retries", "offline", "cassette",
              "cassette_mode")


@dataclass(frozen=True, repr=False)
class Preview:
    """What a map() call would send: rows, requests still to send, estimated input tokens, and the estimated input
    cost where a price is known (prices=, else the built-in table of core/prices.py for the region)."""

    model: str
    rows: int
    requests: int
    stored: int
    input_tokens: int
    batch: bool
    input_cost: float | None = None
    currency: str = ""  # of input_cost; "" for prices= given without one
    yours: bool = True  # input_cost is at prices= (else at the built-in table's)

    def __str__(self) -> str:
        where = "at your prices" if self.yours else "at the built-in prices"
        cost = "set prices= to see the cost" if self.input_cost is None else \
            f"estimated input cost ≈ {money(self.input_cost, self.currency)} {where}" \
            f"{' (batch: half price)' if self.batch else ''}, output not included"
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
    if model_info(model).stream_only:  # the service refuses each row with a 400: said once, before any is sent
        raise QwenError(f"{model} answers only as a stream, and rows are sent whole (as the Batch API takes them); "
                        "pick a model that answers without one, e.g. qwen-plus.", code="InvalidOption", hint="")
    if think:
        raise QwenError("map() sends non-streamed requests (as the Batch API does), and thinking needs a stream; "
                        "leave think off.", code="InvalidOption", hint="")
    return False if model_info(model).hybrid else None


class Requests:
    """Each row's request, built when it is needed (planned, sent, written to a batch file) and then let go: the
    Chat Completions body, its content key and its estimated input tokens.

    The rows share their instruction (the system message, identical in every request) and differ only after it,
    so the context cache can serve it: implicitly on its own, or explicitly (`explicit`) where the model takes
    the explicit cache and the instruction is long enough for it (the system message's text part is marked
    `cache_control: {"type": "ephemeral"}`; `cache=False` leaves it unmarked)."""

    def __init__(self, template: Template, model: str, schema: Schema | None, system: str | None,
                 think: bool | None, settings: Settings, options: dict[str, Any], cache: bool = True) -> None:
        self.template, self.model, self.schema, self.options = template, model, schema, options
        self.instruction = "\n\n".join(p for p in (system, schema.instruction if schema else None) if p) or None
        self.thinking, self.where = _thinking(model, think), _where(settings)
        self.overhead = estimate_tokens(self.instruction or "")
        self.explicit = cache and explicit_cache(model) and self.overhead >= EXPLICIT_MIN_TOKENS

    def rows(self, positions: Any) -> Iterator[Row]:
        """The request of each row at these positions, in order."""
        from ..backends.completions import body

        for prompt in self.template.prompts(positions):
            sent = body(build_request(self.model, prompt, system=self.instruction, thinking=self.thinking,
                                      json_mode=self.schema is not None, **self.options))
            if self.explicit:
                system = sent["messages"][0]
                system["content"] = [{"type": "text", "text": system["content"], "cache_control": CACHE_MARK}]
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
    all_tokens: int = 0  # the estimated input tokens of every planned row, sent or not


def planned(keys: Any) -> Any:
    """The positions of a plan's rows that have a request (in order)."""
    import numpy as np

    return np.flatnonzero(keys != np.zeros(1, dtype="V16")[0])


def plan_digest(keys: Any) -> str:
    """The identity of a call's requests, row by row (to recognise map()'s own output)."""
    return hashlib.sha256(keys.tobytes()).hexdigest()[:32]


def plan_rows(requests: Requests, store: Store, among: Any = None) -> Plan:
    """Every row's key (of the rows at the positions `among`, when given: the others stay unplanned, as zeros), a
    row at a time (nothing of a request is kept), then which distinct requests are answered."""
    import numpy as np

    frame, missing = requests.template.frame, requests.template.missing()
    keys, tokens = np.zeros(len(frame), dtype="V16"), np.zeros(len(frame), dtype=np.int32)
    if missing or among is not None:
        sendable = np.ones(len(frame), dtype=bool) if among is None else np.zeros(len(frame), dtype=bool)
        if among is not None:
            sendable[np.asarray(among, dtype=np.int64)] = True
        sendable[list(missing)] = False
        positions: Any = np.flatnonzero(sendable)
    else:
        positions = range(len(frame))
    for position, row in zip(positions, requests.rows(positions), strict=True):
        keys[position], tokens[position] = bytes.fromhex(row.key), row.tokens
    distinct, first = np.unique(keys, return_index=True)
    if len(distinct) and distinct[0].tobytes() == NOT_SENT:  # the rows not planned sort first
        distinct, first = distinct[1:], first[1:]
    answered = np.zeros(len(distinct), dtype=bool)
    for start in range(0, len(distinct), LOOKUP):
        chunk = [key.tobytes().hex() for key in distinct[start:start + LOOKUP]]
        found = store.answered(chunk)
        answered[start:start + LOOKUP] = [key in found for key in chunk]
    todo = np.sort(first[~answered])
    return Plan(keys, missing, todo, len(distinct), int(tokens[todo].sum()), int(tokens.sum()))


def price(model: str, settings: Settings, prices: dict[str, Any] | None) -> Any:
    """The Price of a model's tokens where the settings send them (prices= first, then the built-in table), or
    None; a malformed prices= entry is a one-line error."""
    try:
        return price_of(model, settings.region, prices)
    except ValueError as exc:
        raise QwenError(f"prices=: {exc}.", code="InvalidInput", hint="") from None


def _preview_cost(model: str, settings: Settings, prices: dict[str, Any] | None, tokens: int,
                  batch: bool) -> dict[str, Any]:
    """Preview's cost fields: the estimated input cost, its currency and whether it is at prices=."""
    found = price(model, settings, prices)
    if found is None:
        return {}
    return {"input_cost": tokens / 1e6 * found.input * (0.5 if batch else 1.0), "currency": found.currency,
            "yours": found.source == "prices="}


def _columns(into: str, schema: Schema | None) -> list[str]:
    """The columns map() adds: the answers (one column, or one per schema field), token counts and errors."""
    return [*(schema.fields if schema else [into]), f"{into}_input_tokens", f"{into}_output_tokens", f"{into}_error"]


def written_digest(frame: Any, columns: list[str]) -> str:
    """A digest of what map() wrote in its columns (to notice a person's edits)."""
    import pandas as pd

    part = frame[columns]
    try:
        hashes = pd.util.hash_pandas_object(part, index=False)
    except TypeError:  # unhashable values (a schema field that is a list): compare their text
        hashes = pd.util.hash_pandas_object(part.astype(str), index=False)
    return hashlib.sha256(hashes.to_numpy().tobytes()).hexdigest()[:32]


def own_columns(frame: Any, columns: list[str]) -> bool:
    """Whether the frame's copies of these columns are the ones an earlier map() returned, unchanged since."""
    made = frame.attrs.get("qwen") or {}
    return made.get("columns") == columns and made.get("written") == written_digest(frame, columns)


def clash(frame: Any, columns: list[str], into: str, schema: Schema | None, verb: str = "map()",
          columns_of: Callable[[str], list[str]] | None = None) -> QwenError | None:
    """A person's column that `verb` would write over, as a one-line error (None when there is none);
    `columns_of(into)` is the columns the verb adds for another into= (to suggest a free one)."""
    twice = [name for name in columns if columns.count(name) > 1]
    if twice:
        return QwenError(f"The schema's field {twice[0]!r} has the name of a column {verb} adds for into={into!r}; "
                         "pick another into=.", code="InvalidInput", hint="")
    taken = [name for name in columns if name in frame.columns]
    if not taken:
        return None
    if schema is not None and taken[0] in schema.fields:
        return QwenError(f"The frame already has a column {taken[0]!r}, a field of the schema; map() never "
                         "replaces a column you have: rename the column or the field (into= names only the "
                         "token and error columns).", code="InvalidInput", hint="")
    added = columns_of or (lambda name: _columns(name, None))
    free = next(f"{into}_{n}" for n in range(2, 10_000)
                if not {*added(f"{into}_{n}"), f"{into}_{n}"} & set(frame.columns))
    return QwenError(f"The frame already has a column {taken[0]!r}; {verb} never replaces a column you have (nor "
                     f"one an earlier {verb} of other rows or another question wrote): pick another into=, e.g. "
                     f"into={free!r}.", code="InvalidInput", hint="")


def stored(keys: Any, store: Store) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """Each row's stored answer (None: none stored, or the row was not sent), by position, read a chunk of rows
    at a time."""
    for start in range(0, len(keys), LOOKUP):
        hexes = [hex_key(key) for key in keys[start:start + LOOKUP]]
        found = store.answers(sorted(set(hexes) - {""}))
        yield from ((position, found.get(key)) for position, key in enumerate(hexes, start))


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
    for position, answer in stored(keys, store):
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
               "columns": columns, "plan": digest, "written": written_digest(out, columns)}
    out.attrs = {**out.attrs, "qwen": summary}  # a new dict: before pandas 2.1 a copy shared its input's attrs
    kept = f"{answered:,} of {len(out):,} rows have answers (in error.frame, and stored: the same call sends only " \
           "the rest)"
    if stop is not None:
        raised = stopped(stop, "map()", kept)
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


def check_sendable(template: Template, plan: Plan) -> None:
    """A one-line error when no row can be sent (each lacks a value the template reads)."""
    frame = template.frame
    if len(frame) and len(plan.missing) == len(frame):
        gaps = frame[template.used].isna().sum()
        named = ", ".join(f"{name!r} in {count:,} rows" for name, count in gaps.items() if count)
        raise QwenError(f"No row can be sent: the template reads columns without a value ({named}, of "
                        f"{len(frame):,}); nothing was sent.", code="InvalidInput", hint="")


def check_size(preview: Any, requests: int, preview_above: int | None, confirm: bool, hint: str) -> None:
    """Stop a call of more than `preview_above` requests at its preview until it is confirmed."""
    if preview_above is not None and requests > preview_above and not confirm:
        raise QwenError(f"{preview} That is more than {preview_above:,} requests: {hint}.", code="InvalidOption",
                        hint="")


def stopped(stop: Stop, verb: str, kept: str) -> QwenError:
    """The one-line error of a run that stopped early (an error that will not change, or a failing service)."""
    error = stop.error
    why = (f"the service kept failing ({stop.failing} of the last {stop.recent} requests; the latest: "
           f"{error.message})" if stop.recent else f"{error.message} {error.hint or ''}".strip().rstrip("."))
    return QwenError(f"{verb} stopped: {why}. {kept}.", code=error.code, status=error.status,
                     request_id=error.request_id, hint="")


def run_map(data: Any, template: str, settings: Settings, store: Store, *, model: str = DEFAULT_MODEL,
            concurrency: int = 8, into: str = "answer", schema: Any = None, batch: bool = False,
            system: str | None = None, think: bool | None = None, dry_run: bool = False,
            preview_above: int | None = PREVIEW_ABOVE, confirm: bool = False, prices: dict[str, Any] | None = None,
            rpm: float | None = None, tpm: float | None = None, progress: bool = True,
            namespace: dict[str, Any] | None = None, raw: bool = False, batch_lines: int = batches.MAX_LINES,
            confirm_hint: str = CONFIRM_HINT, cache: bool = True, **options: Any) -> Any:
    """map() with the settings and store decided (the magic calls this with its own)."""
    frame = frame_of(data)
    shape = Schema(schema) if schema is not None else None
    columns = _columns(into, shape)
    clashed = clash(frame, columns, into, shape)
    own = clashed is not None and own_columns(frame, columns)  # `df = map(df, …)` run again: its own columns, unchanged
    if clashed is not None and not own:
        raise clashed
    requests = Requests(Template(template, frame, namespace, raw), model, shape, system, think, settings, options,
                        cache)
    plan = plan_rows(requests, store)
    if own and frame.attrs["qwen"].get("plan") != plan_digest(plan.keys):
        raise clashed  # other rows or another question: the earlier answers are the person's now
    check_sendable(requests.template, plan)
    preview = Preview(model, len(frame), len(plan.todo), plan.distinct - len(plan.todo), plan.tokens, batch,
                      **_preview_cost(model, settings, prices, plan.tokens, batch))
    if dry_run:
        return preview
    check_size(preview, len(plan.todo), preview_above, confirm, confirm_hint)
    spec = batch_spec(frame, plan, model, into, shape) if batch and len(plan.todo) else None
    stop = send(settings, store, requests.rows(plan.todo), len(plan.todo), model, spec=spec, batch_lines=batch_lines,
                concurrency=concurrency, rpm=rpm, tpm=tpm, check=_check(shape), progress=progress,
                warm=requests.explicit)
    out, emulated = assemble(frame, plan.keys, plan.missing, store, shape, into)
    return _finish(out, plan_digest(plan.keys), into, shape, model, len(plan.todo), len(plan.missing), emulated, stop)


def batch_spec(frame: Any, plan: Plan, model: str, into: str, schema: Schema | None) -> dict[str, Any]:
    """What a batch job keeps of the call, so batch_result() can rebuild its frame after a restart."""
    return {"model": model, "into": into, "schema": schema.json_schema if schema else None,
            "keys": [hex_key(key) for key in plan.keys], "missing": sorted(plan.missing.items()),
            "rows": frame.to_json(orient="records", date_format="iso", default_handler=str)}  # as text: once


def _check(schema: Schema | None) -> Callable[[str], str | None] | None:
    """The runner's check of an answer against the schema (None: no schema, every answer stands)."""
    if schema is None:
        return None

    def check(text: str) -> str | None:
        try:
            schema.parse(text)
        except ValueError as exc:
            return str(exc)
        return None

    return check


def send(settings: Settings, store: Store, rows: Iterable[Row], count: int, label: str, *,
         spec: dict[str, Any] | None = None, batch_lines: int = batches.MAX_LINES, concurrency: int = 8,
         rpm: float | None = None, tpm: float | None = None, check: Callable[[str], str | None] | None = None,
         progress: bool = True, warm: bool = False, resume: str = "") -> Stop | None:
    """Send `count` rows and store each answer: through the Batch API when a job `spec` is given (waiting for it,
    with progress), else live and concurrently (`warm`: the first request alone, so the explicit cache it
    writes serves the rest). An interrupt keeps what finished and says how to resume (`resume`, after how a
    batch job is picked up again). Why a live run stopped early, if it did."""
    if not count:
        return None
    if spec is not None:
        job_id = batches.submit(settings, store, rows, spec, batch_lines)
        print(f"Batch job {job_id}: {count:,} {spec.get('unit', 'rows')}; if the kernel restarts, "
              f"qwen_jupyter.batch_result({job_id!r}) picks it up{resume}.")
        stored_job = batches.wait(settings, store, batches.job(store, job_id), progress)
        batches.collect(settings, store, stored_job)
        return None
    runner = Runner(settings, rows, count, lambda e: store.save_answers([e]), concurrency=concurrency, rpm=rpm,
                    tpm=tpm, check=check, first_alone=warm)
    bar = Progress(count, label + (" (emulated)" if settings.route != "live" else ""), progress)
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


def prepared(options: dict[str, Any]) -> Settings:
    """Where a call's requests go (its connection options, taken out of `options`), with the notebook's settings
    (%config QwenMagics, where the extension is loaded) filling the options it did not give."""
    settings = route(**{name: options.pop(name) for name in CONNECTION if name in options})
    for name, setting in (("system", "system"), ("prices", "prices"), ("preview_above", "map_preview_above")):
        if options.get(name) is None and configured(setting) is not None:
            options[name] = configured(setting)
    return settings


def map(data: Any, template: str, *, model: str | None = None, concurrency: int = 8, into: str = "answer",  # noqa: A001
        batch: bool = False, schema: Any = None, db: str | None = None, **options: Any) -> Any:
    """Run a prompt template over every row of a DataFrame (or a list of dicts or strings); a new DataFrame."""
    settings = prepared(options)
    store = Store(db)
    try:
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
        out = _finish(out, plan_digest(keys), spec["into"], shape, spec["model"], 0, len(missing), emulated, None)
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
