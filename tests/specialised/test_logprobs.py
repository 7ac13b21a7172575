"""Token log probabilities on every API, streamed and not, against the emulator with the real SDKs."""

from __future__ import annotations

import math
from html.parser import HTMLParser

import pytest

import qwen_jupyter
from qwen_jupyter.core.errors import QwenError

from ..conftest import APIS


class _Tags(HTMLParser):
    """The tags, event-handler attributes and text of an HTML page."""

    def __init__(self):
        super().__init__()
        self.names, self.handlers, self.text = set(), [], ""

    def handle_starttag(self, tag, attrs):
        self.names.add(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]

    def handle_data(self, data):
        self.text += data


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("api", APIS)
def test_every_output_token_has_a_logprob_and_k_alternatives(api, stream, connect):
    result = qwen_jupyter.chat("Who are you?", logprobs=3, stream=stream, **connect(api))
    assert result.error is None
    entries = result.logprobs
    assert "".join(e.token for e in entries) == result.text  # one entry per output token, in order
    assert all(e.logprob <= 0 and len(e.top) == 3 for e in entries)
    first = entries[0]
    assert first["token"] == first.token and (first.token, first.logprob) in first.top
    assert all(isinstance(t, str) and isinstance(lp, float) for t, lp in first.top)
    assert sum(math.exp(lp) for _, lp in first.top) <= 1.0 + 1e-9
    assert [lp for _, lp in first.top] == sorted((lp for _, lp in first.top), reverse=True)


@pytest.mark.parametrize("api", APIS)
def test_logprobs_without_alternatives_and_none_unless_asked(api, connect):
    bare = qwen_jupyter.chat("Who are you?", logprobs=0, **connect(api))
    assert bare.logprobs and all(e.top == () for e in bare.logprobs)
    assert qwen_jupyter.chat("Who are you?", **connect(api)).logprobs == ()


def test_logprobs_frame_is_a_row_per_token(connect):
    result = qwen_jupyter.chat("Who are you?", logprobs=2, **connect())
    frame = result.logprobs_frame()
    assert list(frame.columns) == ["token", "logprob", "probability", "top", "top_logprobs"]
    assert len(frame) == len(result.logprobs) and frame["probability"].between(0, 1).all()
    assert frame["top"].map(len).eq(2).all()


def test_more_than_five_alternatives_is_refused_before_sending(connect, emu):
    with pytest.raises(QwenError, match="0 to 5") as caught:
        qwen_jupyter.chat("Who are you?", logprobs=6, **connect())
    assert caught.value.code == "InvalidInput" and not emu.state.received


def test_the_emulator_refuses_top_logprobs_out_of_range_as_the_service_does(connect):
    result = qwen_jupyter.chat("Who are you?", logprobs=0, extra={"top_logprobs": 9}, **connect())
    assert result.error is not None and result.error.status == 400


def test_hostile_tokens_are_escaped_in_the_shaded_view(connect):
    from qwen_jupyter.views.layout import final_bundle

    hostile = '<img src=x onerror=alert(1)> "><script>alert(2)</script> javascript:alert(3)'
    result = qwen_jupyter.chat(hostile, model="qwen-plus~echo", logprobs=3, **connect())
    assert result.text == hostile and result.logprobs
    tags = _Tags()
    tags.feed(final_bundle(result)["text/html"])
    assert tags.names <= {"div", "span", "small", "b"} and not tags.handlers
    assert hostile in tags.text  # shown as text, every character of it
