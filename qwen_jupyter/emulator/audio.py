"""Qwen-Omni spoken answers in compatible mode: the request checks and the audio deltas, as real PCM.

The service streams raw 16-bit mono PCM at 24 kHz in base64 fragments of `delta.audio.data` (with an `id` and an
`expires_at`), after the text; audio output needs stream=true. The emulator speaks a syllable-like hum per word:
a short sound, not speech, but a real waveform that plays.
"""

from __future__ import annotations

import base64
import math
import struct
import time
import uuid
from collections.abc import Iterator
from typing import Any

from ..core.models import model_info
from .errors import invalid

RATE = 24_000
SYLLABLE, GAP, LONGEST = 0.14, 0.05, 2.0  # seconds
CHUNK = 2_400  # samples a delta (0.1 s)


def requested(body: dict[str, Any], model: str, stream: bool) -> dict[str, Any] | None:
    """The audio options of a request that asks for a spoken answer (None when it does not), checked."""
    if "audio" not in (body.get("modalities") or []):
        return None
    if "omni" not in model.lower() or not model_info(model).stream_only:
        raise invalid(f"The model {model} does not support audio output.")
    if not stream:
        raise invalid("'audio' output only support with stream=true")
    options = body.get("audio") or {}
    if not isinstance(options, dict) or not isinstance(options.get("voice", "Cherry"), str):
        raise invalid("audio must be an object such as {\"voice\": \"Cherry\", \"format\": \"wav\"}.")
    if options.get("format", "wav") != "wav":
        raise invalid(f"Unsupported audio format: {options.get('format')!r}; use wav.")
    return options


def pcm(text: str) -> bytes:
    """A hum per word (pitch from the word), at most LONGEST seconds: 16-bit mono little-endian PCM."""
    samples: list[int] = []
    for word in text.split() or ["…"]:
        if len(samples) >= LONGEST * RATE:
            break
        pitch = 140 + sum(word.encode()) % 90
        length = int(SYLLABLE * RATE)
        for n in range(length):
            envelope = math.sin(math.pi * n / length)
            phase = 2 * math.pi * pitch * n / RATE
            value = envelope * (0.6 * math.sin(phase) + 0.25 * math.sin(2 * phase) + 0.1 * math.sin(3 * phase))
            samples.append(int(9000 * value))
        samples.extend([0] * int(GAP * RATE))
    samples = samples[: int(LONGEST * RATE)]
    return struct.pack(f"<{len(samples)}h", *samples)


def deltas(text: str) -> Iterator[dict[str, Any]]:
    """The `delta` objects that carry the spoken answer, in 0.1 s fragments."""
    data = pcm(text)
    audio_id = f"audio_{uuid.uuid4().hex[:24]}"
    expires = int(time.time()) + 86_400
    for start in range(0, len(data), CHUNK * 2):
        piece = base64.b64encode(data[start:start + CHUNK * 2]).decode()
        yield {"content": None, "audio": {"id": audio_id, "data": piece, "expires_at": expires}}
