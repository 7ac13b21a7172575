"""A keyword the Python API does not take goes to the service as a parameter; one that reads like the toolkit's own
(`thresold=`, `modle=`) is refused in one line before anything is sent, in chat(), map() and the operators."""

from __future__ import annotations

import inspect

import pandas as pd
import pytest

import qwen_jupyter
from qwen_jupyter import data
from qwen_jupyter.api import prepare
from qwen_jupyter.core.errors import QwenError
from qwen_jupyter.core.keywords import KEYWORDS
from qwen_jupyter.core.request import Request
from qwen_jupyter.data.mapping import run_map
from qwen_jupyter.data.operators import run_choice

from ..conftest import KEY

FRAME = pd.DataFrame({"text": ["yum pizza", "awful soup"]})


def _refused(call, slip: str, meant: str) -> None:
    with pytest.raises(QwenError) as caught:
        call()
    assert caught.value.message == f"{slip}= is not a keyword of qwen_jupyter; did you mean {meant}=?"


@pytest.mark.parametrize("slip, meant", [("modle", "model"), ("temprature", "temperature"), ("confrim", "confirm")])
def test_a_slip_in_chat_is_refused_and_nothing_is_sent(emu, connect, slip, meant):
    _refused(lambda: qwen_jupyter.chat("Hi", **connect(), **{slip: "qwen-max"}).wait(), slip, meant)
    assert emu.received == []


@pytest.mark.parametrize("call, slip, meant", [
    (lambda run, keep, classify: classify(FRAME, "Sentiment of {text}", ["pos", "neg"], thresold=0.5),
     "thresold", "threshold"),
    (lambda run, keep, classify: keep(FRAME, "Is {text} about food?", treshold=0.5), "treshold", "threshold"),
    (lambda run, keep, classify: run(FRAME, "Summarise {text}", modle="qwen-max"), "modle", "model"),
    (lambda run, keep, classify: run(FRAME, "Summarise {text}", dryrun=True), "dryrun", "dry_run"),
], ids=["classify", "filter", "map", "map dry run"])
def test_a_slip_over_rows_is_refused_before_any_row_is_sent(emu, run, keep, classify, call, slip, meant):
    _refused(lambda: call(run, keep, classify), slip, meant)
    assert emu.received == []


def test_a_parameter_of_the_service_goes_through_as_it_is(emu, connect):
    result = qwen_jupyter.chat("Hi", top_k=5, repetition_penalty=1.1, vl_high_resolution_images=True, **connect())
    result.wait()
    body = emu.received[-1]["body"]
    assert body["top_k"] == 5 and body["repetition_penalty"] == 1.1 and body["vl_high_resolution_images"] is True


PUBLIC = [qwen_jupyter.chat, qwen_jupyter.achat, qwen_jupyter.compare, prepare, data.map, data.classify,
          data.filter, qwen_jupyter.batch_result, run_map, run_choice]  # the data ones as the package's wrappers call


@pytest.mark.parametrize("function", PUBLIC, ids=lambda f: f.__name__)
def test_every_keyword_the_api_takes_is_known_so_none_reads_as_a_slip(function):
    taken = {name for name, parameter in inspect.signature(function).parameters.items()
             if parameter.kind is parameter.KEYWORD_ONLY}
    assert taken - KEYWORDS - set(Request.__dataclass_fields__) == set()


def test_the_key_is_not_in_the_line(emu, connect):
    with pytest.raises(QwenError) as caught:
        qwen_jupyter.chat("Hi", **{**connect(), "api_kye": KEY}).wait()
    assert KEY not in str(caught.value) and "did you mean api_key=?" in str(caught.value)
