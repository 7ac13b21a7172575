"""What a run of the operators cost, and what it would cost before it is sent: tokens and estimated cost by model,
what the context cache saved, and what sending every row to the last model would have cost. Prices come from
core/prices.py (prices= first, then its table); every cost is labelled an estimate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from ..core.prices import Price, cost, money, provenance

_CACHE_FIELDS = ("cached_tokens", "cache_creation_tokens", "cache_type")


@dataclass
class Use:
    """One model's part in a run: rows asked of it, requests sent now (the rest were stored), rows whose answer
    stands, answers counted (two a row where two samples were compared), tokens, and the estimated cost and
    context-cache saving (None where a price is missing)."""

    model: str
    rows: int = 0
    sent: int = 0
    answered: int = 0
    answers: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    cost: float | None = 0.0
    saved: float | None = 0.0


def _add(total: float | None, amount: float | None) -> float | None:
    return None if total is None or amount is None else total + amount


class Ledger:
    """Adds up a run's answers by model, and what every row would have cost from the last model alone."""

    def __init__(self, prices: Mapping[str, Price | None], region: str, given: Mapping[str, Any] | None,
                 batch: bool) -> None:
        self.prices, self.region, self.given, self.batch = dict(prices), region, given, batch
        self.uses = {model: Use(model) for model in prices}
        self.last = list(prices)[-1]
        self.alone: float | None = 0.0

    def count(self, model: str, usage: Mapping[str, Any]) -> None:
        """One stored answer of `model` (its usage as map() stores it)."""
        use, price = self.uses[model], self.prices[model]
        use.answers += 1
        use.input_tokens += usage.get("input_tokens") or 0
        use.cached_tokens += usage.get("cached_tokens") or 0
        use.output_tokens += usage.get("output_tokens") or 0
        spent = cost(price, usage, self.batch) if price else None
        use.cost = _add(use.cost, spent)
        uncached = cost(price, {k: v for k, v in usage.items() if k not in _CACHE_FIELDS}, self.batch) if price \
            else None
        use.saved = _add(use.saved, None if uncached is None or spent is None else uncached - spent)

    def alone_row(self, usage: Mapping[str, Any]) -> None:
        """A row as the last model would have answered it alone: the same request's tokens at its prices."""
        price = self.prices[self.last]
        self.alone = _add(self.alone, cost(price, usage, self.batch) if price else None)

    @property
    def currency(self) -> str:
        """The currency of the prices, when they share one ("" otherwise)."""
        found = {price.currency for price in self.prices.values() if price}
        return found.pop() if len(found) == 1 else ""

    @property
    def total(self) -> float | None:
        """The run's estimated cost (None when a model has no price)."""
        total: float | None = 0.0
        for use in self.uses.values():
            total = _add(total, use.cost)
        return total

    def summary(self) -> dict[str, Any]:
        """The ledger as plain data (for the frame's attrs)."""
        return {"by_model": [asdict(use) for use in self.uses.values()], "total_cost": self.total,
                "last_model_alone_cost": self.alone if len(self.uses) > 1 else None, "currency": self.currency,
                "batch": self.batch, "prices": provenance(self.region, self.given)}

    def lines(self) -> list[str]:
        """The summary as lines of text: a line a model, the totals, the cache's saving, where prices come from."""
        lines = []
        for use in self.uses.values():
            if not use.rows:
                continue
            tokens = f"{use.input_tokens:,} in{f' ({use.cached_tokens:,} cached)' if use.cached_tokens else ''}" \
                     f" · {use.output_tokens:,} out"
            fresh = f" ({use.sent:,} sent now)" if use.sent != use.answers else ""
            price = "no price" if use.cost is None else f"≈ {money(use.cost, self.currency)}"
            lines.append(f"  {use.model}: asked {_counted(use.rows, 'row')}, {_counted(use.answered, 'answer')} "
                         f"{'stands' if use.answered == 1 else 'stand'}; {_counted(use.answers, 'request')}{fresh}, "
                         f"{tokens} tokens; {price}")
        total, channel = self.total, " through the Batch API (half price)" if self.batch else ""
        if total is not None and len(self.uses) > 1 and self.alone:
            lines.append(f"  cascade ≈ {money(total, self.currency)}{channel}; every row to {self.last} alone ≈ "
                         f"{money(self.alone, self.currency)}: the cascade cost {total / self.alone:.0%} of that.")
        elif total is not None:
            lines.append(f"  total ≈ {money(total, self.currency)}{channel}.")
        saved = [use.saved for use in self.uses.values() if use.cached_tokens]
        if saved and all(amount is not None for amount in saved):
            read = sum(use.cached_tokens for use in self.uses.values())
            lines.append(f"  The context cache served {read:,} input tokens, saving ≈ "
                         f"{money(sum(saved), self.currency)}.")  # type: ignore[arg-type]
        return [*lines, "  " + provenance(self.region, self.given)]


@dataclass(frozen=True, repr=False)
class Estimate:
    """What an operator's call would send and cost, before anything is sent: requests and estimated tokens for
    the first model, how many rows would go on (`share`: measured on a probe of rows, or None: anywhere from none
    to all), and the costs (each an estimate; None without a price)."""

    verb: str
    models: tuple[str, ...]
    rows: int
    requests: int
    stored: int
    input_tokens: int
    output_tokens: int
    threshold: float
    share: float | None
    probed: int
    costs: tuple[float | None, ...]
    alone: float | None
    currency: str
    prices: str
    batch: bool

    def _cost(self, amount: float | None) -> str:
        return "no price" if amount is None else f"≈ {money(amount, self.currency)}"

    def __str__(self) -> str:
        first, *later = self.models
        lines = [f"{self.verb} estimate{' via the Batch API' if self.batch else ''}: {self.rows:,} rows; "
                 f"{self.requests:,} requests to send to {first} ({self.stored:,} already answered), "
                 f"~{self.input_tokens:,} input and ~{self.output_tokens:,} output tokens (estimated)."]
        if not later:
            lines.append(f"Every row: {self._cost(self.costs[0])} (without the context cache's saving).")
        elif self.share is None:
            lines += [f"Rows below confidence {self.threshold:g} go on to {' then '.join(later)}: anywhere from none "
                      "to all of them (probe=N, or --probe N in a cell, measures the share on N rows).",
                      f"Every row: from {self._cost(self.costs[0])} (none goes on) to {self._cost(_sum(self.costs))} "
                      f"(all do); {self.models[-1]} alone {self._cost(self.alone)}."]
        else:
            each = ", ".join(f"{model} {self._cost(amount)}" for model, amount in zip(self.models, self.costs,
                                                                                        strict=True))
            lines += [f"Rows below confidence {self.threshold:g} go on to {' then '.join(later)}: {self.share:.0%} "
                      f"of them, measured on a probe of {self.probed:,} rows (stored: the run does not send them "
                      "again).",
                      f"Every row: {self._cost(_sum(self.costs))} ({each}); {self.models[-1]} alone "
                      f"{self._cost(self.alone)}."]
        return "\n".join([*lines, self.prices])

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        return "  \n".join(str(self).splitlines())


def _sum(amounts: Sequence[float | None]) -> float | None:
    total: float | None = 0.0
    for amount in amounts:
        total = _add(total, amount)
    return total


def _counted(number: int, word: str) -> str:
    return f"{number:,} {word}{'' if number == 1 else 's'}"
