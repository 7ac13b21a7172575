"""classify() and filter() through the emulator and the real SDKs: labels read strictly, confidence from the
tokens' log probabilities, cascades that send on exactly the rows the cheap model was unsure of, the fallback
without log probabilities, the Batch API, resumption, and the cost summary."""

from __future__ import annotations

import math

import openai
import pandas as pd
import pytest

from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.data.choice import confidence, instruction, parse
from qwen_jupyter.emulator.choices import unsure

from ..conftest import KEY
from .conftest import chat_requests

LABELS = ["positive", "negative", "neutral"]
WORDS = ["loved it, great value", "arrived broken, want a refund", "it is a chair", "fast and works perfectly",
         "the worst, rude staff", "fine I guess", "amazing quality", "late and damaged"]
REVIEWS = pd.DataFrame({"review": [f"{WORDS[i % 8]} (order {i})" for i in range(60)], "stars": range(60)},
                       index=[f"r{i}" for i in range(60)])
CHEAP, STRONG = "qwen-flash~unsure=0.3", "qwen3-max"


def _asked(emu, model: str) -> list[str]:
    """The user messages the emulator was sent for a model, in no particular order."""
    return [r["body"]["messages"][-1]["content"] for r in chat_requests(emu) if r["body"]["model"] == model]


def _create(client: openai.OpenAI, body: dict):
    """The request a row sent, again, through the openai SDK (Qwen's own keys in extra_body, as the SDK wants)."""
    standard = {k: v for k, v in body.items() if k in ("model", "messages", "logprobs", "top_logprobs",
                                                       "max_tokens", "seed")}
    return client.chat.completions.create(**standard, extra_body={k: v for k, v in body.items()
                                                                   if k not in standard and k != "stream"})


def test_each_row_gets_one_label_with_the_probability_the_model_gave_it(classify, emu):
    out = classify(REVIEWS, "Review: {review}", LABELS, model="qwen-plus")
    assert list(out.columns) == ["review", "stars", "label", "label_confidence", "label_model", "label_error"]
    assert list(out.index) == list(REVIEWS.index) and list(REVIEWS.columns) == ["review", "stars"]
    assert set(out["label"]) <= set(LABELS) and out["label_error"].isna().all()
    assert (out["label_model"] == "qwen-plus").all()
    sent = chat_requests(emu)[0]["body"]
    assert sent["logprobs"] is True and sent["top_logprobs"] == 5 and sent["messages"][0] == {
        "role": "system", "content": instruction(LABELS)}  # the same instruction for every row, first
    assert {r["body"]["messages"][0]["content"] for r in chat_requests(emu)} == {instruction(LABELS)}
    # The confidence is what the service's own log probabilities say, read here with the openai SDK.
    client = openai.OpenAI(base_url=emu.url + "/compatible-mode/v1", api_key=KEY)
    for name in ("r0", "r7", "r13"):
        body = next(r["body"] for r in chat_requests(emu) if r["body"]["messages"][-1]["content"].endswith(
            f"(order {name[1:]})"))
        answer = _create(client, body)
        tokens = [[t.token, t.logprob, [[a.token, a.logprob] for a in t.top_logprobs]]
                  for t in answer.choices[0].logprobs.content]
        assert out.loc[name, "label"] == answer.choices[0].message.content
        assert out.loc[name, "label_confidence"] == pytest.approx(confidence(answer.choices[0].message.content,
                                                                             tokens))
    assert out["label_confidence"].min() > 0.4 and out["label_confidence"].max() <= 1.0
    assert out["label_confidence"].nunique() > 30  # plausible values that vary by row


def test_confidence_adds_up_the_spellings_of_each_token_of_the_label():
    tokens = [[" Pos", math.log(0.6), [[" Pos", math.log(0.6)], ["pos", math.log(0.2)], [" Neg", math.log(0.15)]]],
              ["itive", math.log(0.9), [["itive", math.log(0.9)], ["ition", math.log(0.05)]]],
              [".", math.log(0.7), [[".", math.log(0.7)]]]]
    assert confidence(" Positive.", tokens) == pytest.approx((0.6 + 0.2) * 0.9)  # the full stop does not count
    assert parse(" Positive.", LABELS) == "positive"
    assert confidence("Positive", tokens) is None  # tokens that do not spell the answer: no number is made up
    with pytest.raises(ValueError, match="is not one of the labels"):
        parse("I think it is positive", LABELS)


def test_a_cascade_sends_on_exactly_the_rows_the_cheap_model_was_unsure_of(classify, emu, capsys):
    out = classify(REVIEWS, "Review: {review}", LABELS, models=[CHEAP, STRONG])
    hard = {name for name, text in zip(REVIEWS.index, REVIEWS["review"], strict=True)
            if unsure(f"Review: {text}", 0.3)}
    assert 8 < len(hard) < 30
    assert set(out.index[out["label_model"] == STRONG]) == hard
    assert sorted(_asked(emu, STRONG)) == sorted(f"Review: {t}" for t in REVIEWS.loc[sorted(hard), "review"])
    assert len(_asked(emu, CHEAP)) == 60
    assert (out.loc[out["label_model"] == CHEAP, "label_confidence"] >= 0.9).all()
    summary = out.attrs["qwen"]
    assert summary["escalated"] == [len(hard)] and summary["models"] == [CHEAP, STRONG]
    cheap, strong = summary["by_model"]
    assert (cheap["rows"], cheap["answered"], strong["rows"], strong["answered"]) == (60, 60 - len(hard),
                                                                                      len(hard), len(hard))
    assert 0 < summary["total_cost"] < summary["last_model_alone_cost"] and summary["currency"] == "CNY"
    printed = capsys.readouterr().out
    assert f"{len(hard)} went on to {STRONG}" in printed and "cascade ≈ ¥" in printed
    assert "Costs are estimates at the built-in beijing prices" in printed
    # A lower threshold sends fewer on; the answers are stored, so nothing new goes to the cheap model.
    emu.state.received.clear()
    lenient = classify(REVIEWS, "Review: {review}", LABELS, models=[CHEAP, STRONG], threshold=0.6)
    assert _asked(emu, CHEAP) == [] and set(lenient.index[lenient["label_model"] == STRONG]) < hard


def test_a_failed_row_keeps_its_error_and_the_same_call_again_sends_only_it(classify, emu, capsys):
    emu.inject("bad-request", times=3)  # the first three rows are refused (a 400 is not tried again)
    first = classify(REVIEWS, "Review: {review}", LABELS, models=[CHEAP, STRONG], concurrency=1)
    failed = list(first.index[first["label_error"].notna()])
    assert failed == ["r0", "r1", "r2"] and first.loc[failed, "label"].isna().all()
    assert (first.loc[failed, "label_model"] == CHEAP).all()  # it went no further
    assert "3 of 60 rows failed" in capsys.readouterr().out
    emu.state.received.clear()
    again = classify(REVIEWS, "Review: {review}", LABELS, models=[CHEAP, STRONG])
    hard = [name for name in failed if unsure(f"Review: {REVIEWS.loc[name, 'review']}", 0.3)]
    assert len(_asked(emu, CHEAP)) == 3 and len(_asked(emu, STRONG)) == len(hard)
    assert again["label_error"].isna().all()
    emu.state.received.clear()
    classify(REVIEWS, "Review: {review}", LABELS, models=[CHEAP, STRONG])
    assert chat_requests(emu) == []


def test_a_cascade_that_stops_keeps_what_finished_on_the_error_and_goes_on_when_called_again(classify, emu):
    refused = "qwen3-max~401"
    with pytest.raises(QwenError, match=r"^401 .*classify\(\) stopped: Invalid API-key provided\. ") as caught:
        classify(REVIEWS, "Review: {review}", LABELS, models=[CHEAP, refused])
    out = caught.value.frame
    went = out["label_model"] == refused
    assert went.sum() == out.attrs["qwen"]["escalated"][0] > 0
    assert out.loc[went, "label_error"].str.match(r"401 |Not sent yet\.").all() and out.loc[went, "label"].isna().all()
    assert out.loc[~went, "label_error"].isna().all() and out.loc[~went, "label"].notna().all()  # kept
    emu.state.received.clear()
    done = classify(REVIEWS, "Review: {review}", LABELS, models=[CHEAP, STRONG])
    assert _asked(emu, CHEAP) == [] and done["label_error"].isna().all()


def test_an_answer_that_is_not_a_label_is_the_rows_error_and_goes_on_in_a_cascade(classify, emu):
    echoed = "qwen-plus~echo"  # the emulator answers with the prompt itself
    with pytest.raises(QwenError, match=r"classify\(\): every row failed \(the first: The answer") as caught:
        classify(REVIEWS.head(4), "Review: {review}", LABELS, model=echoed)
    out = caught.value.frame
    assert out["label"].isna().all()
    assert out["label_error"].str.startswith("The answer 'Review: loved it").sum() == 1
    assert out["label_error"].str.contains(r"is not one of the labels \(positive, negative, neutral\)").all()
    emu.state.received.clear()
    rescued = classify(REVIEWS.head(4), "Review: {review}", LABELS, models=[echoed, STRONG])
    assert (rescued["label_model"] == STRONG).all() and rescued["label_error"].isna().all()


def test_without_log_probabilities_the_confidence_is_two_samples_agreement_said_in_one_line(classify, emu, capsys):
    model = "qwen-plus~no-logprobs"
    out = classify(REVIEWS, "Review: {review}", LABELS, model=model)
    printed = capsys.readouterr().out
    assert f"{model} returned no log probabilities for 60 rows" in printed and "not a probability" in printed
    seeded = [r["body"] for r in chat_requests(emu) if r["body"].get("seed") == 2]
    assert len(chat_requests(emu)) == 120 and len(seeded) == 60
    assert set(out["label_confidence"]) <= {0.5, 1.0} and (out["label_confidence"] == 0.5).any()
    client = openai.OpenAI(base_url=emu.url + "/compatible-mode/v1", api_key=KEY)
    for name in out.index[out["label_confidence"] == 0.5][:3]:  # those the second sample answered otherwise
        body = next(b for b in seeded if b["messages"][-1]["content"] == f"Review: {REVIEWS.loc[name, 'review']}")
        second = _create(client, body)
        assert second.choices[0].message.content != out.loc[name, "label"]


def test_filter_keeps_the_rows_answered_yes_in_order_and_keep_false_shows_every_decision(keep, emu):
    question = "Is this review negative? {review}"
    kept = keep(REVIEWS, question)
    every = keep(REVIEWS, question, keep=False)
    assert list(every.columns) == ["review", "stars", "keep", "keep_confidence", "keep_model", "keep_error"]
    assert str(every["keep"].dtype) == "boolean" and every["keep_error"].isna().all()
    assert list(kept.index) == list(every.index[every["keep"]])  # the index and the order are kept
    sure = kept[kept["keep_confidence"] >= 0.9]
    assert 10 < len(kept) < 50 and len(sure) > 0.8 * len(kept)
    assert sure["review"].str.contains("broken|worst|late").all()  # where it is sure, it is right
    assert (every["keep_confidence"] > 0).all()
    assert chat_requests(emu)[0]["body"]["messages"][0]["content"] == instruction(["yes", "no"], question=True)


def test_through_the_batch_api_each_row_is_asked_twice_and_a_disagreement_goes_on(classify, emu, capsys):
    out = classify(REVIEWS, "Review: {review}", LABELS, models=[CHEAP, STRONG], batch=True)
    assert chat_requests(emu) == []  # nothing went live
    printed = capsys.readouterr().out
    assert "The Batch API returns no log probabilities" in printed and "Batch job job-" in printed
    assert "through the Batch API (half price)" in printed
    assert set(out["label_confidence"]) <= {0.5, 1.0} and out["label_error"].isna().all()
    went = out["label_model"] == STRONG
    assert out.attrs["qwen"]["escalated"] == [int(went.sum())] and went.any()
    cheap = out.attrs["qwen"]["by_model"][0]
    assert cheap["answers"] == 120 and cheap["cached_tokens"] == 0  # two samples a row; batch reads no cache
    emu.state.received.clear()
    again = classify(REVIEWS, "Review: {review}", LABELS, models=[CHEAP, STRONG], batch=True)
    assert "Batch job" not in capsys.readouterr().out and again["label"].equals(out["label"])


def test_a_long_shared_instruction_is_marked_for_the_explicit_cache_and_read_from_it(classify, emu, capsys):
    guide = "Labelling guide for this shop. " + " ".join(f"Rule {i}: read the whole review first." for i in
                                                         range(120))
    out = classify(REVIEWS.head(20), "Review: {review}", LABELS, model="qwen-plus", system=guide)
    bodies = [r["body"] for r in chat_requests(emu)]
    (part,) = bodies[0]["messages"][0]["content"]
    assert part["cache_control"] == {"type": "ephemeral"} and part["text"].startswith(guide)
    assert all(b["messages"][0] == bodies[0]["messages"][0] for b in bodies)  # one prefix, byte for byte
    used, prefix = out.attrs["qwen"]["by_model"][0], math.ceil(len(part["text"]) / 4)  # the emulator's tokens
    assert used["cached_tokens"] == 19 * prefix and used["saved"] > 0  # the first writes it, the rest read it
    assert f"The context cache served {19 * prefix:,} input tokens, saving ≈ ¥" in capsys.readouterr().out
    emu.state.received.clear()
    classify(REVIEWS.head(2), "Review: {review}", LABELS, model="qwen-turbo", system=guide, into="other")
    assert isinstance(chat_requests(emu)[0]["body"]["messages"][0]["content"], str)  # no explicit cache there


def test_map_lays_out_its_rows_for_the_cache_too(run, emu):
    guide = "You summarise reviews. " + "Keep to one short sentence and say what the buyer felt. " * 80
    out = run(REVIEWS.head(6), "Summarise: {review}", system=guide, model="qwen-plus")
    assert out["answer_error"].isna().all()
    content = chat_requests(emu)[0]["body"]["messages"][0]["content"]
    assert content[0]["cache_control"] == {"type": "ephemeral"}
    short = run(REVIEWS.head(3), "Summarise: {review}", system="Be brief.", into="short")
    assert short["short_error"].isna().all()
    assert chat_requests(emu)[-1]["body"]["messages"][0] == {"role": "system", "content": "Be brief."}


def test_dry_run_estimates_the_cascade_and_a_probe_measures_the_share_that_goes_on(classify, emu):
    estimate = classify(REVIEWS, "Review: {review}", LABELS, models=[CHEAP, STRONG], dry_run=True)
    assert chat_requests(emu) == []
    text = str(estimate)
    assert "60 requests to send to qwen-flash~unsure=0.3" in text and "anywhere from none to all" in text
    assert estimate.costs[0] < estimate.alone and "estimates at the built-in beijing prices" in text
    probed = classify(REVIEWS, "Review: {review}", LABELS, models=[CHEAP, STRONG], dry_run=True, probe=20)
    assert len(_asked(emu, CHEAP)) == 20 and _asked(emu, STRONG) == []
    assert probed.probed == 20 and 0 < probed.share < 0.6 and "measured on a probe of 20 rows" in str(probed)
    emu.state.received.clear()
    classify(REVIEWS, "Review: {review}", LABELS, models=[CHEAP, STRONG])
    assert len(_asked(emu, CHEAP)) == 40  # the probed rows were stored


def test_your_prices_win_and_a_region_without_prices_says_so(classify, emu, capsys):
    mine = {CHEAP: {"input": 1.0, "output": 2.0, "currency": "USD"}, STRONG: {"input": 10.0, "output": 20.0,
                                                                                "currency": "USD"}}
    out = classify(REVIEWS.head(10), "Review: {review}", LABELS, models=[CHEAP, STRONG], prices=mine)
    cheap = out.attrs["qwen"]["by_model"][0]
    assert cheap["cost"] == pytest.approx((cheap["input_tokens"] * 1.0 + cheap["output_tokens"] * 2.0) / 1e6)
    assert "Costs are estimates at your prices" in capsys.readouterr().out
    far = classify(REVIEWS.head(3), "Review: {review}", LABELS, models=[CHEAP, STRONG], region="virginia",
                   into="far")
    assert far.attrs["qwen"]["total_cost"] is None
    printed = capsys.readouterr().out
    assert "no price" in printed and "No built-in prices for virginia: pass prices= to see costs." in printed
    with pytest.raises(QwenError, match="prices=: a price is"):
        classify(REVIEWS.head(3), "Review: {review}", LABELS, prices={"qwen-plus": "cheap"}, into="x")


@pytest.mark.parametrize("options, message", [
    ({"labels": ["only"]}, "at least two labels"),
    ({"labels": ["Yes", "yes"]}, "the same up to case"),
    ({"labels": "a,,b"}, "A label is empty"),
    ({"model": "qwen-plus", "models": ["qwen-flash"]}, "Give model= or models=, not both"),
    ({"threshold": 1.5}, "threshold= is a confidence between 0 and 1"),
    ({"threshold": "0.9"}, r"threshold= is a confidence between 0 and 1, not '0.9'"),
    ({"threshold": True}, "threshold= is a confidence between 0 and 1, not True"),
    ({"models": ["qwen-flash", "qwen-max"], "dry_run": True, "probe": -3}, "probe= is a number of rows"),
    ({"models": ["qwen-flash", "qwen-max"], "probe": 5}, "probe= measures how many rows a cascade sends on"),
    ({"dry_run": True, "probe": 5}, "give it with dry_run=True and models="),
    ({"thresold": 0.5}, r"thresold= is not a keyword of qwen_jupyter; did you mean threshold=\?"),
    ({"think": True}, "thinking needs a stream"),
    ({"model": "qwq-plus"}, "qwq-plus answers only as a stream, and rows are sent whole"),
    ({"into": "stars"}, "already has a column 'stars'"),
])
def test_bad_input_is_one_line_before_anything_is_sent(classify, emu, options, message):
    options = {"labels": LABELS, **options}
    with pytest.raises(QwenError, match=message) as caught:
        classify(REVIEWS, "Review: {review}", options.pop("labels"), **options)
    assert "\n" not in str(caught.value) and chat_requests(emu) == []


def test_the_accessor_is_the_same_call(classify, keep, emu, db):
    out = classify(REVIEWS.head(5), "Review: {review}", LABELS)
    emu.state.received.clear()
    same = REVIEWS.head(5).qwen.classify("Review: {review}", LABELS, base_url=emu.url, api_key=KEY, db=db,
                                         progress=False)
    assert chat_requests(emu) == [] and same["label"].equals(out["label"])
    kept = REVIEWS.head(5).qwen.filter("Is this review negative? {review}", base_url=emu.url, api_key=KEY, db=db,
                                       progress=False)
    assert list(kept.index) == list(keep(REVIEWS.head(5), "Is this review negative? {review}").index)
