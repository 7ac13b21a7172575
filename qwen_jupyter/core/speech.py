"""Spoken answers (Qwen-Omni): the request options that ask for one, and the PCM it streams made into a WAV.

The service streams raw little-endian 16-bit mono PCM at 24 kHz in base64 fragments (no WAV header, although the
request says "wav"); a result keeps the PCM and gives it back as a playable WAV.
"""

from __future__ import annotations

import base64
import binascii
import io
import os
import wave
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import QwenError

RATE = 24_000  # samples a second, 16-bit mono (the Omni documentation)
DEFAULT_VOICE = "Cherry"
VOICES = ("Cherry", "Serena", "Ethan", "Chelsie", "Tina")  # the voices the Omni documentation names


def voice_or_word(speak: str | None, written_with_equals: bool) -> tuple[str | None, str]:
    """`--speak Hello there` speaks "Hello there" in the default voice: a word after --speak is a voice only when
    it is one the documentation names or was written --speak=VOICE. Returns (voice, word for the prompt)."""
    if speak is None or written_with_equals or speak in VOICES or speak == DEFAULT_VOICE:
        return speak, ""
    return DEFAULT_VOICE, speak


def speech_options(speak: bool | str | None = None, modalities: Any = None, audio: Any = None) -> dict[str, Any]:
    """The wire options for a spoken answer: `speak` (True or a voice) or the documented modalities/audio pair."""
    if speak is None and modalities is None and audio is None:
        return {}
    if audio is not None and not isinstance(audio, dict):
        raise QwenError("audio= as an answer option is a dict such as {'voice': 'Cherry', 'format': 'wav'}.",
                        code="InvalidInput", hint="")
    options = dict(audio or {})
    if isinstance(speak, str):
        options["voice"] = speak
    elif speak is False:
        return {"modalities": list(modalities or ["text"])}
    options.setdefault("voice", DEFAULT_VOICE)
    options.setdefault("format", "wav")
    return {"modalities": list(modalities or ["text", "audio"]), "audio": options}


def wants_speech(extra: dict[str, Any]) -> bool:
    """Whether request options ask for a spoken answer."""
    return "audio" in (extra.get("modalities") or ())


def decode_audio(data: str | None) -> bytes:
    """One base64 fragment of the audio stream as bytes (each fragment decodes on its own)."""
    if not data:
        return b""
    try:
        return base64.b64decode(data)
    except (binascii.Error, ValueError):
        raise QwenError("The service sent audio that is not base64.", code="MalformedChunk") from None


def wav_bytes(pcm: bytes, rate: int = RATE) -> bytes:
    """16-bit mono PCM as a WAV file (bytes that already are a WAV pass through)."""
    if pcm.startswith(b"RIFF"):
        return pcm
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm[: len(pcm) // 2 * 2])
    return buffer.getvalue()


@dataclass(frozen=True)
class Speech:
    """A spoken answer: `wav` (bytes to play or save), `transcript`, `seconds`; `save(path)` writes the WAV."""

    pcm: bytes = field(repr=False)
    transcript: str = ""
    rate: int = RATE

    @property
    def wav(self) -> bytes:
        return wav_bytes(self.pcm, self.rate)

    @property
    def seconds(self) -> float:
        return len(self.pcm) / 2 / self.rate

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the WAV file; returns its path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(self.wav)
        return target

    def __repr__(self) -> str:
        return f"<Speech {self.seconds:.1f} s, {len(self.transcript)} characters of transcript>"
