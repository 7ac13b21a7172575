"""classify() and filter(): a question with a fixed set of answers over every row, with the model's confidence,
and cascades of models that send on only the rows the cheaper model was unsure of.

They are map() underneath: the same requests (non-streamed Chat Completions, the body a Batch line carries),
store keys, concurrency and throttling, progress, interrupt and resume, and the Batch API. Each row asks for one
of the labels alone (choice.py), with log probabilities; the confidence is the probability of the label the model
chose. With models=[cheap, …, strong] every row goes to the first model; the rows whose confidence is below
`threshold` (or whose answer is not a label) go on to the next, whose answer then stands. A row whose request
failed keeps its error and goes no further: the same call again sends it again.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import QwenError
from ..core.models import DEFAULT_MODEL
from ..core.prices import Price, cost
from ..core.settings import Settings, configured
from ..state.store import Store
from . import batch as batches
from .choice import NO, SECOND_SAMPLE_SEED, TOP, YES, agreement, confidence, instruction, labels_of, parse
from .costs import Estimate, Ledger
from .mapping import (
    CONFIRM_HINT,
    PREVIEW_ABOVE,
    Plan,
    Preview,
    Requests,
    batch_spec,
    check_sendable,
    check_size,
    clash,
    estimate_tokens,
    own_columns,
    plan_digest,
    plan_rows,
    planned,
    prepared,
    price,
    send,
    stopped,
    stored,
    written_digest,
)
from .rows import Template, frame_of
from .runner import Stop


def _columns(into: str) -> list[str]:
    """The columns an operator adds: the answer, its confidence, the model whose answer stands, the error."""
    return [into, f"{into}_confidence", f"{into}_model", f"{into}_error"]


def _chain(model: str | None, models: Any) -> list[str]:
    """The models to ask in turn: models=[…], else model= (else the notebook's), as a clear error when wrong."""
    if models is not None and model is not None:
        raise QwenError("Give model= or models=, not both (models= is the cascade, cheapest first).",
                        code="InvalidInput", hint="")
    if models is None:
        return [model or configured("model", DEFAULT_MODEL)]
    chain = [part.strip() for part in models.split(",")] if isinstance(models, str) else list(models)
    if not chain or not all(isinstance(m, str) and m.strip() for m in chain) or len(set(chain)) != len(chain):
        raise QwenError("models= takes distinct model names, cheapest first, e.g. ['qwen-flash', 'qwen3-max'].",
                        code="InvalidInput", hint="")
    return chain


@dataclass
class Decisions:
    """Each row's answer as the run goes: label, confidence, the model that gave it, error."""

    labels: Any
    confidence: Any
    model: Any
    error: Any
    escalated: list[int] = field(default_factory=list)  # rows sent on, after each model but the last
    emulated: bool = False

    @classmethod
    def of(cls, rows: int) -> Decisions:
        """Nothing decided yet, for `rows` rows."""
        import numpy as np

        return cls(np.full(rows, None, dtype=object), np.full(rows, np.nan), np.full(rows, None, dtype=object),
                   np.full(rows, None, dtype=object))


class Cascade:
    """One operator call: the rows, what each is asked, and the models in turn."""

    def __init__(self, template: Template, labels: list[str], question: bool, chain: list[str], settings: Settings,
                 store: Store, *, threshold: float, system: str | None, think: bool | None, options: dict[str, Any],
                 cache: bool, batch: bool, into: str, run: dict[str, Any]) -> None:
        self.template, self.labels, self.question, self.chain = template, labels, question, chain
        self.settings, self.store, self.threshold, self.batch, self.into = settings, store, threshold, batch, into
        self.system = "\n\n".join(p for p in (system, instruction(labels, question)) if p)
        longest = max(estimate_tokens(label) for label in labels)
        self.options = {"max_tokens": 8 + 2 * longest, **options, "logprobs": TOP}
        seed = self.options.get("seed")
        self.second_seed = SECOND_SAMPLE_SEED if seed is None else seed + 1
        self.think, self.cache, self.run = think, cache, run  # run: send()'s options (concurrency, limits, …)
        self.verb = "filter()" if question else "classify()"
        self.decided = Decisions.of(len(template.frame))
        for position, why in template.missing().items():
            self.decided.error[position] = why

    def requests(self, model: str, second: bool = False) -> Requests:
        """Every row's request to `model` (the second sample's, with its own seed, when `second`)."""
        options = {**self.options, "seed": self.second_seed} if second else self.options
        return Requests(self.template, model, None, self.system, self.think, self.settings, options, self.cache)

    def plan(self, model: str, among: Any = None, second: bool = False) -> tuple[Requests, Plan]:
        """The requests to `model` and their plan (of the rows at `among`, when given)."""
        requests = self.requests(model, second)
        return requests, plan_rows(requests, self.store, among)

    def _send(self, requests: Requests, plan: Plan, label: str, spec: dict[str, Any] | None = None,
              extra: tuple[Requests, Plan] | None = None) -> Stop | None:
        rows: Any = requests.rows(plan.todo)
        count = len(plan.todo)
        if extra is not None:
            rows, count = itertools.chain(rows, extra[0].rows(extra[1].todo)), count + len(extra[1].todo)
        return send(self.settings, self.store, rows, count, label, spec=spec, warm=requests.explicit,
                    resume=f", and the same {self.verb} call then goes on from the stored answers", **self.run)

    def go(self, first: tuple[Requests, Plan], ledger: Ledger) -> Stop | None:
        """Ask each model in turn, the first everything, each next one the rows the one before was unsure of;
        why the run stopped early, if it did."""
        positions = planned(first[1].keys)
        for number, model in enumerate(self.chain):
            requests, plan = first if number == 0 else self.plan(model, positions)
            ledger.uses[model].rows, ledger.uses[model].sent = len(positions), len(plan.todo)
            second = None
            if self.batch:
                twice = self._lacking(plan, positions, unanswered=True)
                second = self._twice(model, twice, ledger, f"The Batch API returns no log probabilities: "
                                                           f"{len(twice):,} rows go to {model} twice")
                spec = {**batch_spec(self.template.frame, plan, model, self.into, None), "unit": "requests"}
                self._send(requests, plan, model, spec, second)
            else:
                stop = self._send(requests, plan, model)
                if stop is not None:  # what finished stands, as it is; the same call again goes on
                    self.read(number, model, plan, None, positions, ledger, final=True)
                    return stop
                lacking = self._lacking(plan, positions)
                if len(lacking):
                    second = self._twice(model, lacking, ledger, f"{model} returned no log probabilities for "
                                                                 f"{len(lacking):,} rows: each is asked once more")
                    stop = self._send(*second, f"{model} (second samples)")
                    if stop is not None:
                        self.read(number, model, plan, second[1], positions, ledger, final=True)
                        return stop
            positions = self.read(number, model, plan, second[1] if second else None, positions, ledger)
            if not len(positions):
                break
        return None

    def _twice(self, model: str, rows: Any, ledger: Ledger, why: str) -> tuple[Requests, Plan]:
        """The second samples of these rows and their plan, saying `why` in one line when there are any."""
        if len(rows):
            print(f"{why}, and their confidence is the two samples' agreement (1.0 when both give the label, 0.5 "
                  "when not), not a probability.")
        second = self.plan(model, rows, second=True)
        ledger.uses[model].sent += len(second[1].todo)
        return second

    def _lacking(self, plan: Plan, positions: Any, unanswered: bool = False) -> Any:
        """The rows whose answer is a label that came without log probabilities (and, with `unanswered`, those
        with no answer yet: what a batch asks twice, all but the rows answered with them before)."""
        import numpy as np

        asked = np.zeros(len(plan.keys), dtype=bool)
        asked[positions] = True
        found = []
        for position, answer in stored(plan.keys, self.store):
            if not asked[position]:
                continue
            if answer is None or answer["error"]:
                if unanswered:
                    found.append(position)
            elif _label(answer["text"], self.labels) and confidence(answer["text"], answer.get("logprobs")) is None:
                found.append(position)
        return np.array(found, dtype=np.int64)

    def read(self, number: int, model: str, plan: Plan, second: Plan | None, positions: Any, ledger: Ledger,
              final: bool = False) -> Any:
        """Each asked row's answer from the store: it stands, or (unsure or not a label, with a model after this
        one, unless `final`) the row goes on. The rows that go on."""
        import numpy as np

        decided, last = self.decided, final or number == len(self.chain) - 1
        asked = np.zeros(len(plan.keys), dtype=bool)
        asked[positions] = True
        seconds = {} if second is None else {p: a for p, a in stored(second.keys, self.store) if a is not None}
        onward = []
        for position, answer in stored(plan.keys, self.store):
            if not asked[position]:
                continue
            decided.model[position], decided.labels[position] = model, None
            decided.confidence[position], decided.error[position] = np.nan, None
            if answer is None:
                decided.error[position] = "Not sent yet."
                continue
            decided.emulated = decided.emulated or answer["emulated"]
            ledger.count(model, answer["usage"])
            if number == 0:
                ledger.alone_row(answer["usage"])
            if answer["error"]:
                decided.error[position] = answer["error"]
                continue
            try:
                label = parse(answer["text"], self.labels)
            except ValueError as exc:
                if last:
                    decided.error[position] = str(exc)
                else:
                    onward.append(position)
                continue
            sure = confidence(answer["text"], answer.get("logprobs"))
            if sure is None and position in seconds:
                other = seconds[position]
                ledger.count(model, other["usage"])
                sure = None if other["error"] else agreement(label, _label(other["text"], self.labels) or "")
            decided.labels[position] = label
            decided.confidence[position] = np.nan if sure is None else sure
            if not last and (sure is None or sure < self.threshold):
                onward.append(position)
        if number < len(self.chain) - 1 and not final:
            decided.escalated.append(len(onward))
        return np.array(onward, dtype=np.int64)


def _label(text: str, labels: list[str]) -> str | None:
    try:
        return parse(text, labels)
    except ValueError:
        return None


def run_choice(data: Any, template: str, labels: Any, settings: Settings, store: Store, *, question: bool = False,
               model: str | None = None, models: Any = None, threshold: float = 0.9, into: str = "label",
               keep: bool = True, concurrency: int = 8, batch: bool = False, system: str | None = None,
               think: bool | None = None, dry_run: bool = False, probe: int | None = None,
               preview_above: int | None = PREVIEW_ABOVE, confirm: bool = False, prices: dict[str, Any] | None = None,
               rpm: float | None = None, tpm: float | None = None, progress: bool = True,
               namespace: dict[str, Any] | None = None, raw: bool = False, cache: bool = True,
               batch_lines: int = batches.MAX_LINES, confirm_hint: str = CONFIRM_HINT, **options: Any) -> Any:
    """classify() and filter() with the settings and store decided (the magic calls this with its own)."""
    chain = _chain(model, models)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1:
        raise QwenError(f"threshold= is a confidence between 0 and 1, not {threshold!r}.", code="InvalidInput",
                        hint="")
    _check_probe(probe, dry_run, chain)
    verb, columns = ("filter()" if question else "classify()"), _columns(into)
    frame = frame_of(data, verb)
    choices = [YES, NO] if question else labels_of(labels)
    clashed = clash(frame, columns, into, None, verb, _columns)
    own = clashed is not None and own_columns(frame, columns)
    if clashed is not None and not own:
        raise clashed
    run = {"concurrency": concurrency, "rpm": rpm, "tpm": tpm, "progress": progress, "batch_lines": batch_lines}
    cascade = Cascade(Template(template, frame, namespace, raw), choices, question, chain, settings, store,
                      threshold=threshold, system=system, think=think, options=options, cache=cache, batch=batch,
                      into=into, run=run)
    first = cascade.plan(chain[0])
    if own and frame.attrs["qwen"].get("plan") != plan_digest(first[1].keys):
        raise clashed
    check_sendable(cascade.template, first[1])
    ledger = Ledger({m: price(m, settings, prices) for m in chain}, settings.region, prices, batch)
    if dry_run:
        return _estimate(cascade, first, ledger, probe)
    requests = len(first[1].todo) * (2 if batch else 1)
    preview = Preview(chain[0], len(frame), requests, first[1].distinct - len(first[1].todo), first[1].tokens, batch)
    check_size(preview, requests, preview_above, confirm, confirm_hint)
    stop = cascade.go(first, ledger)
    return _finish(cascade, first[1], ledger, keep, stop)


def _finish(cascade: Cascade, plan: Plan, ledger: Ledger, keep: bool, stop: Stop | None) -> Any:
    """The frame with the operator's columns and the run's summary (attrs, and printed); a QwenError with the
    frame when the run stopped early or every row failed. filter() keeps the rows answered yes unless keep=False."""
    import pandas as pd

    decided, into, frame = cascade.decided, cascade.into, cascade.template.frame
    out = frame.copy()
    if cascade.question:
        out[into] = pd.array([None if label is None else label == YES for label in decided.labels], dtype="boolean")
    else:
        out[into] = decided.labels
    out[f"{into}_confidence"] = decided.confidence
    out[f"{into}_model"] = decided.model
    out[f"{into}_error"] = decided.error
    not_sent = len(cascade.template.missing())
    failed = int(out[f"{into}_error"].notna().sum()) - not_sent
    for model in ledger.uses.values():
        model.answered = int(((out[f"{into}_model"] == model.model) & out[f"{into}_error"].isna()).sum())
    columns = _columns(into)
    out.attrs = {**out.attrs, "qwen": {
        "verb": cascade.verb, "models": cascade.chain, "threshold": cascade.threshold, "rows": len(out),
        "failed": failed, "not_sent": not_sent, "escalated": decided.escalated, "emulated": decided.emulated,
        **ledger.summary(), "columns": columns, "plan": plan_digest(plan.keys),
        "written": written_digest(out, columns)}}
    answered = len(out) - failed - not_sent
    kept = f"{answered:,} of {len(out):,} rows have answers (in error.frame, and stored: the same call sends only " \
           "the rest)"
    if stop is not None:
        raised = stopped(stop, cascade.verb, kept)
    elif len(out) and not answered:
        first = out[f"{into}_error"].dropna().iloc[0]
        raised = QwenError(f"{cascade.verb}: every row failed (the first: {first}); the errors are in error.frame's "
                           f"{into}_error column.", hint="")
    else:
        _say(cascade, out, ledger, failed, not_sent)
        if cascade.question and keep:
            return out[out[into].fillna(False).astype(bool)]
        return out
    raised.frame = out
    raise raised


def _say(cascade: Cascade, out: Any, ledger: Ledger, failed: int, not_sent: int) -> None:
    """The run in a few lines: who answered, what went on, what it cost, rows without an answer."""
    into, rows = cascade.into, len(out)
    went = "".join(f"; {count:,} went on to {model}" for count, model in zip(cascade.decided.escalated,
                                                                               cascade.chain[1:], strict=False))
    print(f"{cascade.verb}: {rows:,} rows{went} (below confidence {cascade.threshold:g}, or not a label)."
          if went else f"{cascade.verb}: {rows:,} rows.")
    print("\n".join(ledger.lines()))
    if failed:
        print(f"{failed:,} of {rows:,} rows failed (their errors are in the {into}_error column); run the same call "
              "again to send only those.")
    if not_sent:
        print(f"{not_sent:,} of {rows:,} rows were not sent: they have no value in a column the template reads "
              f"(see {into}_error).")
    if cascade.question and (failed or not_sent):
        print(f"filter() keeps only the rows answered yes; the {failed + not_sent:,} without an answer are left out: "
              "keep=False returns every row with its decision and error.")


def _check_probe(probe: Any, dry_run: bool, chain: list[str]) -> None:
    """probe= sends N rows to a cascade's first model in a dry run, to measure the share that goes on."""
    if probe is None:
        return
    if isinstance(probe, bool) or not isinstance(probe, int) or probe < 1:
        raise QwenError(f"probe= is a number of rows (1 or more), not {probe!r}.", code="InvalidInput", hint="")
    if not dry_run or len(chain) < 2:
        raise QwenError("probe= measures how many rows a cascade sends on, in a dry run: give it with "
                        "dry_run=True and models=[cheap, …, strong].", code="InvalidInput", hint="")


def _estimate(cascade: Cascade, first: tuple[Requests, Plan], ledger: Ledger, probe: int | None) -> Estimate:
    """What the call would send and cost; with probe=N, N rows go to the first model now to measure the share
    that would go on."""
    import numpy as np

    plan, chain, batch = first[1], cascade.chain, cascade.batch
    samples = 2 if batch else 1
    share, probed = None, 0
    if probe and len(chain) > 1:
        sendable = planned(plan.keys)
        picked = np.sort(random.Random(0).sample(list(sendable), min(int(probe), len(sendable))))
        requests, sample = cascade.plan(chain[0], picked)
        stop = send(cascade.settings, cascade.store, requests.rows(sample.todo), len(sample.todo),
                    f"{chain[0]} (probe)", warm=requests.explicit, **cascade.run)
        if stop is not None:
            raise stopped(stop, f"{cascade.verb}'s probe", "nothing else was sent")
        onward = cascade.read(0, chain[0], sample, None, picked, Ledger(ledger.prices, "", None, False))
        share, probed = len(onward) / max(1, len(picked)), len(picked)
    rows = len(planned(plan.keys))
    per_row = plan.all_tokens / max(1, rows)
    output = max(estimate_tokens(label) for label in cascade.labels) + 1
    row = {"input_tokens": per_row, "output_tokens": output}
    costs = [_rows_cost(ledger.prices[model], row, rows * samples * (1.0 if share is None else share) ** number,
                        batch) for number, model in enumerate(chain)]  # each model asked a share of the one before
    return Estimate(cascade.verb, tuple(chain), len(cascade.template.frame), len(plan.todo) * samples,
                    plan.distinct - len(plan.todo), plan.tokens * samples, len(plan.todo) * output * samples,
                    cascade.threshold, share, probed, tuple(costs),
                    _rows_cost(ledger.prices[chain[-1]], row, rows, batch), ledger.currency,
                    ledger.lines()[-1].strip(), batch)


def _rows_cost(found: Price | None, row: dict[str, Any], rows: float, batch: bool) -> float | None:
    """The estimated cost of `rows` requests of a row's tokens (None without a price)."""
    each = cost(found, row, batch) if found is not None else None
    return None if each is None else each * rows


def classify(data: Any, template: str, labels: Any, *, model: str | None = None, models: Any = None,
             threshold: float = 0.9, into: str = "label", db: str | None = None, **options: Any) -> Any:
    """One of `labels` for every row, with the model's confidence and, with models=[cheap, …, strong], a cascade."""
    settings = prepared(options)
    store = Store(db)
    try:
        return run_choice(data, template, labels, settings, store, model=model, models=models, threshold=threshold,
                          into=into, **options)
    finally:
        store.close()


def filter(data: Any, question: str, *, model: str | None = None, models: Any = None,  # noqa: A001
           threshold: float = 0.9, into: str = "keep", keep: bool = True, db: str | None = None,
           **options: Any) -> Any:
    """The rows the model answers yes to (index kept); keep=False returns every row with its decision."""
    settings = prepared(options)
    store = Store(db)
    try:
        return run_choice(data, question, None, settings, store, question=True, model=model, models=models,
                          threshold=threshold, into=into, keep=keep, **options)
    finally:
        store.close()
