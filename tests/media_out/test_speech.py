"""Spoken answers from Omni models against the emulator: the documented options on the wire, the PCM made into a
WAV the `wave` module reads, both ways of asking (speak= and modalities/audio), and speech input still working."""

from __future__ import annotations

import base64
import io
import wave

import pytest

import qwen_jupyter
from qwen_jupyter.backends.openai import chunk_events
from qwen_jupyter.core.events import AudioDelta, TextDelta
from qwen_jupyter.core.speech import RATE, Speech, speech_options, wav_bytes
from qwen_jupyter.views.media import speech_html

from ..conftest import APIS


def _wav(data: bytes) -> tuple[int, int, int, int]:
    with wave.open(io.BytesIO(data)) as audio:
        return audio.getnchannels(), audio.getsampwidth(), audio.getframerate(), audio.getnframes()


@pytest.mark.parametrize("api", APIS)
def test_speak_streams_text_and_a_playable_wav_on_chat_completions_whatever_the_api(api, connect, emu):
    result = qwen_jupyter.chat("who are you", model="qwen3-omni-flash", speak=True, **connect(api))
    assert result.error is None, result.error
    assert result.api == "openai" and emu.received[-1]["path"] == "/compatible-mode/v1/chat/completions"
    body = emu.received[-1]["body"]
    assert body["modalities"] == ["text", "audio"] and body["audio"] == {"voice": "Cherry", "format": "wav"}
    assert body["stream"] is True
    assert result.text == "I am a large language model created by Alibaba Cloud. I am called Qwen."
    channels, width, rate, frames = _wav(result.audio.wav)
    assert (channels, width, rate) == (1, 2, RATE) and frames > RATE  # over a second of sound
    assert abs(result.audio.seconds - frames / RATE) < 1e-6
    assert sum(1 for e in result.events if isinstance(e, AudioDelta)) > 5  # streamed in pieces


def test_the_documented_modalities_and_audio_dict_pass_through(connect, emu):
    result = qwen_jupyter.chat("你是谁", model="qwen-omni-turbo", modalities=["text", "audio"],
                               audio={"voice": "Ethan", "format": "wav"}, **connect())
    assert result.error is None, result.error
    body = emu.received[-1]["body"]
    assert body["modalities"] == ["text", "audio"] and body["audio"] == {"voice": "Ethan", "format": "wav"}
    assert result.audio is not None


def test_speak_with_a_voice_and_audio_input_together(connect, emu, tmp_path):
    clip = tmp_path / "question.wav"
    clip.write_bytes(wav_bytes(b"\0\0" * 2400))
    result = qwen_jupyter.chat("Answer the question", model="qwen3-omni-flash", audio=str(clip), speak="Serena",
                               **connect())
    assert result.error is None, result.error
    body = emu.received[-1]["body"]
    assert body["audio"]["voice"] == "Serena"
    assert body["messages"][-1]["content"][0]["type"] == "input_audio"
    assert "I received 1 audio clip" in result.text and result.audio is not None


def test_no_speech_unless_asked(connect, emu):
    result = qwen_jupyter.chat("who are you", model="qwen3-omni-flash", **connect())
    assert result.audio is None and "modalities" not in emu.received[-1]["body"]


def test_a_spoken_answer_must_stream(connect):
    result = qwen_jupyter.chat("hi", model="qwen3-omni-flash", speak=True, stream=False, **connect())
    assert result.error.status == 400 and "stream" in result.error.message  # Omni streams only


def test_a_text_model_cannot_speak(connect):
    result = qwen_jupyter.chat("hi", model="qwen-plus", speak=True, **connect())
    assert result.error.status == 400 and "does not support audio output" in result.error.message


def test_a_transcript_is_the_text_when_a_chunk_has_no_content():
    pcm = b"\x01\x00" * 10
    chunk = {"choices": [{"index": 0, "delta": {"content": None, "audio": {
        "transcript": "Hello", "data": base64.b64encode(pcm).decode()}}}]}
    events = chunk_events(b"{}", chunk)[1:]
    assert events == [AudioDelta(pcm, "Hello"), TextDelta("Hello")]
    both = {"choices": [{"index": 0, "delta": {"content": "Hi", "audio": {"transcript": "Hi"}}}]}
    assert [type(e) for e in chunk_events(b"{}", both)[1:]] == [TextDelta, AudioDelta]  # not twice


def test_speech_options_and_the_speech_object(tmp_path):
    assert speech_options() == {}
    assert speech_options("Ethan") == {"modalities": ["text", "audio"], "audio": {"voice": "Ethan", "format": "wav"}}
    assert speech_options(audio={"voice": "Tina"})["audio"] == {"voice": "Tina", "format": "wav"}
    with pytest.raises(qwen_jupyter.QwenError, match="voice"):
        speech_options(audio="Cherry")
    speech = Speech(b"\0\0" * RATE, "hi")
    assert _wav(speech.save(tmp_path / "a" / "hi.wav").read_bytes()) == (1, 2, RATE, RATE)
    assert wav_bytes(speech.wav) == speech.wav  # a WAV passes through
    shown = speech_html(speech)  # what IPython shows for it (registered with the display formatter)
    assert shown.startswith('<div class="qwen-audio') and "<script" not in shown
