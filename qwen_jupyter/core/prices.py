"""What tokens cost: a small price table for the Model Studio models the toolkit names, the context cache's
rules, and the cost of one answer's usage. Every cost it gives is an estimate: the bill is the service's.

Where the numbers come from. This machine has no network; the table was read on READ_ON from stored copies of
public pages (SOURCES), not from the live price list, and prices change. Each entry names its source. Only the
first tier of each price is kept (Model Studio prices some models by input length: the tiers above start at 32K
or 128K input tokens, far beyond a row of a table). A region the table does not cover, or a model it does not
list, has no price: pass prices= ({model: {"input": …, "output": …, "cached_input": …}} per million tokens, with
"currency" if you like), which wins over the table everywhere.

The context cache (Model Studio's "Context Cache" page, stored copy of 2026): an implicit hit is billed at 20% of
the input price (a model's listed "cache hit" price where the table has one); the explicit cache (content parts
marked `cache_control: {"type": "ephemeral"}`) bills the tokens that create a cache at 125% and a hit at 10%, for
blocks of at least 1,024 tokens, valid 5 minutes from the last hit. The Batch API bills 50% of the real-time
input and output prices, with no context-cache discount (shared/reference/dashscope-specialised.md §1.7).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

READ_ON = "2026-12-07"
SOURCES = {
    "aliyun-paas": "https://help.aliyun.com/en/document_detail/3023262.html (\"AI PaaS billing rules\", CNY per "
                   "1K tokens, first tier; stored copy, undated)",
    "aliyun-parsed": "a third party's parse of the Beijing price list (Maas-Model-platform parsed_json/"
                     "qwen3-max.json, CNY per 1K tokens, tier up to 32K input); not Alibaba's own page",
    "intl-billing": "https://www.alibabacloud.com/help/en/model-studio/billing-for-model-studio (\"Billing for "
                    "model services\", minimum price per million tokens; stored copy last updated 2025-04-22)",
}
EXPLICIT_CREATE = 1.25  # explicit cache: tokens that create the cache, times the input price
EXPLICIT_HIT = 0.10     # explicit cache: tokens read from it
IMPLICIT_HIT = 0.20     # implicit cache: tokens that hit, where a model has no listed cache-hit price
BATCH = 0.50            # the Batch API: input and output, no cache discount
EXPLICIT_MIN_TOKENS = 1024  # the shortest block the explicit cache keeps
# Models whose requests may mark the explicit cache: the families the Context Cache page lists (the captured
# explicit-cache usage in shared/reference is qwen3.7-flash's). Others are left to the implicit cache.
_EXPLICIT = re.compile(r"^(qwen-plus|qwen-flash|qwen3-max|qwen3\.\d+-(plus|flash|max))(\b|-|$)")


@dataclass(frozen=True)
class Price:
    """Prices per million tokens in `currency`: input, output (None: not given), input read from the
    (implicit) cache, and output when the model thought (all of it, reasoning and answer; None: not known)."""

    input: float
    output: float | None
    cached_input: float | None = None  # None: IMPLICIT_HIT of the input price
    currency: str = ""  # "" for prices= given without one
    source: str = "prices="  # a key of SOURCES, or prices= (yours)
    thinking_output: float | None = None

    @property
    def cache_hit(self) -> float:
        """The price of an implicit cache hit per million tokens."""
        return self.cached_input if self.cached_input is not None else self.input * IMPLICIT_HIT


_CNY, _USD = "CNY", "USD"
TABLE: dict[str, dict[str, Price]] = {
    "beijing": {
        "qwen-flash": Price(0.2, 1.5, 0.1, _CNY, "aliyun-paas", thinking_output=1.5),
        "qwen-plus": Price(0.8, 2.0, 0.2, _CNY, "aliyun-paas", thinking_output=8.0),
        "qwen3-max": Price(2.5, 10.0, 0.5, _CNY, "aliyun-parsed"),
    },
    "singapore": {
        "qwen-turbo": Price(0.05, 0.2, None, _USD, "intl-billing"),
        "qwen-plus": Price(0.4, 1.2, None, _USD, "intl-billing"),
        "qwen-max": Price(1.6, 6.4, None, _USD, "intl-billing"),
    },
}
SYMBOLS = {_CNY: "¥", _USD: "$"}


def explicit_cache(model: str) -> bool:
    """Whether a model's requests may mark a block for the explicit context cache."""
    return bool(_EXPLICIT.match(model.lower()))


def _family(model: str, known: Mapping[str, Any]) -> str | None:
    """The entry that prices a model: its own, else the longest one it extends (qwen-plus-latest,
    qwen-flash-2025-07-28, or an emulator fault suffix such as qwen-flash~unsure=0.3)."""
    if model in known:
        return model
    found = [name for name in known if re.match(re.escape(name) + r"[-~]", model)]
    return max(found, key=len) if found else None


def _given(value: Any) -> Price:
    """A Price from one prices= entry: {"input"[, "output", "cached_input", "currency"]} or (input[, output])."""
    if isinstance(value, Price):
        return value
    if isinstance(value, Mapping) and "input" in value:
        number = {name: None if value.get(name) is None else float(value[name])
                  for name in ("input", "output", "cached_input")}
        return Price(number["input"], number["output"], number["cached_input"],  # type: ignore[arg-type]
                     str(value.get("currency") or ""))
    if isinstance(value, (tuple, list)) and len(value) in (1, 2, 3):
        numbers = [float(v) for v in value]
        return Price(numbers[0], numbers[1] if len(numbers) > 1 else None, numbers[2] if len(numbers) > 2 else None)
    raise ValueError("a price is {'input': …, 'output': …} per million tokens (optionally 'cached_input' and "
                     f"'currency'), not {value!r}")


def price_of(model: str, region: str, prices: Mapping[str, Any] | None = None) -> Price | None:
    """The price of a model's tokens in a region: yours (prices=) first, then the table's; None when neither
    has it. A malformed prices= entry raises ValueError, saying what a price is."""
    given = _family(model, prices or {})
    if given is not None:
        return _given((prices or {})[given])
    table = TABLE.get(region, {})
    found = _family(model, table)
    return table[found] if found else None


def cost(price: Price, usage: Mapping[str, Any], batch: bool = False) -> float | None:
    """The estimated cost of one answer's usage (input_tokens, output_tokens, cached_tokens,
    cache_creation_tokens and cache_type as map() stores them; reasoning_tokens as a result's usage has them),
    in the price's currency; None when it has output tokens and the price gives none for them."""
    entered, made = usage.get("input_tokens") or 0, usage.get("output_tokens") or 0
    if usage.get("reasoning_tokens"):  # a thinking answer: all its output at the thinking price
        price = replace(price, output=price.thinking_output)
    if price.output is None:
        if made:
            return None
        price = replace(price, output=0.0)
    assert price.output is not None
    if batch:
        return BATCH * (entered * price.input + made * price.output) / 1e6
    cached, created = usage.get("cached_tokens") or 0, usage.get("cache_creation_tokens") or 0
    hit = price.input * EXPLICIT_HIT if usage.get("cache_type") == "ephemeral" else price.cache_hit
    plain = max(0, entered - cached - created)
    return (plain * price.input + created * price.input * EXPLICIT_CREATE + cached * hit
            + made * price.output) / 1e6


def money(amount: float, currency: str) -> str:
    """An amount with its currency sign: cents above one unit, three significant figures below (a few rows cost
    fractions of a cent)."""
    if amount >= 1 or amount <= 0:
        text = f"{amount:,.2f}" if amount else "0"
    else:
        text = f"{amount:.{2 - math.floor(math.log10(amount))}f}".rstrip("0")
    sign = SYMBOLS.get(currency)
    return f"{sign}{text}" if sign else f"{text} {currency}".strip()


def provenance(region: str, prices: Mapping[str, Any] | None = None) -> str:
    """One line: where the prices for a region come from, and that costs are estimates."""
    if prices:
        return "Costs are estimates at your prices (prices=), per million tokens."
    if region not in TABLE:
        return f"No built-in prices for {region}: pass prices= to see costs."
    currency = next(iter(TABLE[region].values())).currency
    return (f"Costs are estimates at the built-in {region} prices ({currency} per million tokens, read on {READ_ON} "
            "from stored copies of Model Studio's price pages; see qwen_jupyter.core.prices); the bill is the "
            "service's.")


def estimate(model: str | None, usage: Mapping[str, Any], region: str | None = None) -> tuple[float, str] | None:
    """The estimated cost of one answer's usage and its currency, at `region` (else the notebook's) and the
    notebook's prices (%config QwenMagics.region and .prices; beijing and the table where the extension is not
    loaded); None without a price."""
    from .settings import configured

    try:
        found = price_of(model or "", region or configured("region", "beijing"), configured("prices"))
    except ValueError:
        return None
    amount = cost(found, usage) if found is not None and usage.get("input_tokens") is not None else None
    return None if amount is None else (amount, found.currency)  # type: ignore[union-attr]


def estimated(model: str | None, usage: Mapping[str, Any], region: str | None = None) -> str | None:
    """"≈ ¥0.000123" for one answer's usage (see estimate()), or None without a price."""
    found = estimate(model, usage, region)
    return None if found is None else f"≈ {money(*found)}"
