"""The emulator's fixed-choice answers and context cache, through the real openai SDK: one label alone with
plausible log probabilities that vary by row, a known share of unsure rows, sampling with a seed, no log
probabilities on request; the cache's usage fields as the service reports them."""

from __future__ import annotations

import math

import openai
import pytest

from qwen_jupyter.data.choice import confidence, instruction
from qwen_jupyter.emulator.choices import unsure

from ..conftest import KEY

LABELS = ["positive", "negative", "not relevant"]


@pytest.fixture
def client(emu) -> openai.OpenAI:
    return openai.OpenAI(base_url=emu.url + "/compatible-mode/v1", api_key=KEY)


def _ask(client, text: str, model: str = "qwen-plus", labels=LABELS, **extra):
    return client.chat.completions.create(
        model=model, messages=[{"role": "system", "content": instruction(labels)}, {"role": "user", "content": text}],
        logprobs=True, top_logprobs=5, **extra)


def _tokens(choice) -> list:
    return [[t.token, t.logprob, [[a.token, a.logprob] for a in t.top_logprobs]] for t in choice.logprobs.content]


def test_a_label_alone_with_its_tokens_and_the_alternatives_a_reader_must_add_up(client):
    answer = _ask(client, "Review: I loved it, great value")
    choice = answer.choices[0]
    assert choice.message.content == "positive"
    (token,) = choice.logprobs.content
    alternatives = {a.token: math.exp(a.logprob) for a in token.top_logprobs}
    assert "Positive" in alternatives and len(alternatives) == 5  # the other case holds part of the probability
    assert 0.9 < confidence("positive", _tokens(choice)) <= 1.0
    assert _ask(client, "Review: I loved it, great value").choices[0].logprobs.content[0].logprob == token.logprob
    stream = list(_ask(client, "Review: off-topic text about trains", stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text in LABELS and all(c.choices[0].logprobs for c in stream if c.choices and c.choices[0].delta.content)


def test_a_multi_token_label_is_decided_where_it_parts_from_the_runner_up(client):
    choice = _ask(client, "Review: about trains", labels=["not relevant", "not sure"]).choices[0]
    tokens = choice.logprobs.content
    assert [t.token for t in tokens] == ["not ", choice.message.content.split()[1]]
    assert math.exp(tokens[0].logprob) > 0.99  # both labels start "not ": no doubt there
    assert {"relevant", "sure"} <= {a.token for a in tokens[1].top_logprobs}  # the choice is the second token
    assert confidence("not relevant", _tokens(choice)) == pytest.approx(
        math.prod(sum(math.exp(a.logprob) for a in t.top_logprobs if a.token.strip().lower() ==
                      t.token.strip().lower()) for t in tokens))


def test_the_unsure_share_is_exact_and_the_same_rows_for_every_model(client):
    rows = [f"Review {n}: it was fine" for n in range(80)]
    hard = [unsure(text, 0.3) for text in rows]
    assert 10 < sum(hard) < 40
    for text, expected in zip(rows, hard, strict=True):
        sure = confidence(*(lambda c: (c.message.content, _tokens(c)))(
            _ask(client, text, model="qwen-flash~unsure=0.3").choices[0]))
        assert (sure < 0.9) == expected, text
    assert all(unsure(text, 0.3) for text in rows if unsure(text, 0.03))  # hard for max: hard for flash too


def test_a_seed_samples_and_no_logprobs_answers_without_them(client):
    rows = [f"Review {n}: it was fine" for n in range(80)]
    hard = [text for text in rows if unsure(text, 0.25)]
    greedy = {text: _ask(client, text, model="qwen-flash").choices[0].message.content for text in hard}
    sampled = {text: _ask(client, text, model="qwen-flash", seed=7).choices[0].message.content for text in hard}
    assert 0 < sum(greedy[t] != sampled[t] for t in hard) < len(hard)  # unsure rows: samples sometimes differ
    plain = _ask(client, rows[0], model="qwen-plus~no-logprobs").choices[0]
    assert plain.message.content in LABELS and plain.logprobs is None


def _cached(client, system: list | str, text: str, model: str = "qwen-plus") -> dict:
    answer = client.chat.completions.create(
        model=model, messages=[{"role": "system", "content": system}, {"role": "user", "content": text}])
    return answer.usage.prompt_tokens_details.model_dump(exclude_none=True)


def test_the_explicit_cache_is_written_once_then_read_as_the_service_reports_it(client):
    long = "A shared guide for every row of this test. " * 120  # over 1,024 tokens
    marked = [{"type": "text", "text": long, "cache_control": {"type": "ephemeral"}}]
    written = _cached(client, marked, "row one")
    tokens = math.ceil(len(long) / 4)
    assert written["cached_tokens"] == 0 and written["cache_type"] == "ephemeral"
    assert written["cache_creation_input_tokens"] == written["cache_write_tokens"] == tokens
    assert written["cache_creation"] == {"ephemeral_5m_input_tokens": tokens}
    read = _cached(client, marked, "row two")
    assert read["cached_tokens"] == tokens and read["cache_creation_input_tokens"] == 0
    short = [{"type": "text", "text": "Too short to cache.", "cache_control": {"type": "ephemeral"}}]
    assert _cached(client, short, "row") == {"cached_tokens": 0}
    with pytest.raises(openai.BadRequestError, match="input content must be a string"):
        _cached(client, marked, "row", model="qwen-turbo")  # a text model without the explicit cache


def test_the_implicit_cache_reads_a_repeated_prefix_from_the_second_request(client):
    prefix = "Another guide, long enough for the implicit cache. " * 30
    assert _cached(client, prefix, "first") == {"cached_tokens": 0}
    assert _cached(client, prefix, "second") == {"cached_tokens": math.ceil(len(prefix) / 4)}
    assert _cached(client, "short", "third") == {"cached_tokens": 0}
