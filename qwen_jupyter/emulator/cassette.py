"""Cassettes: recorded Model Studio traffic, one JSON object a line, replayed by the emulator.

    {"cassette": "qwen-jupyter", "version": 1}
    {"interaction": 1, "method": "POST", "path": "/compatible-mode/v1/chat/completions", "body": {...},
     "status": 200, "headers": {"content-type": "text/event-stream"}}
    {"interaction": 1, "t": 0.0123, "data": "data: {...}\\n\\n"}
    ...
    {"interaction": 1, "end": 1.52}

Requests match by what they mean: the route and the JSON body (model, messages, options), not headers or ids.
The key and any other secret header never reach the file, nor does inline media (a digest stands for it).
A line that cannot be read is an error naming the file and line (lenient replay skips it with a warning); an
interaction with no end line was cut off while recording and is left out.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import redact

FORMAT = {"cassette": "qwen-jupyter", "version": 1}
SECRET_HEADERS = ("authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key")
KEPT_HEADERS = ("content-type", "retry-after", "x-request-id")


@dataclass
class Interaction:
    number: int
    method: str
    path: str
    body: Any
    status: int
    headers: dict[str, str]
    chunks: list[tuple[float, str]] = field(default_factory=list)

    @property
    def key(self) -> str:
        return request_key(self.method, self.path, self.body)


def fingerprint(value: Any) -> Any:
    """The body with inline media (data URLs) replaced by a digest: cassettes stay small and hold no pictures."""
    if isinstance(value, dict):
        return {k: fingerprint(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fingerprint(v) for v in value]
    if isinstance(value, str) and value.startswith("data:") and "," in value:  # a digest has no comma
        head, _, data = value.partition(",")
        digest = hashlib.sha256(data.encode()).hexdigest()[:16]
        return f"{head.removesuffix(';base64')};sha256={digest};bytes={len(data)}"
    return value


def request_key(method: str, path: str, body: Any) -> str:
    """What makes two requests the same: route and body (media by digest), canonically ordered."""
    return json.dumps([method.upper(), path.rstrip("/"), fingerprint(body)], sort_keys=True, ensure_ascii=False)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def differences(recorded: Any, sent: Any, where: str = "") -> list[str]:
    """Where two request bodies differ, as short readable lines."""
    if isinstance(recorded, dict) and isinstance(sent, dict):
        out: list[str] = []
        for name in sorted(set(recorded) | set(sent)):
            path = f"{where}.{name}" if where else name
            if name not in sent:
                out.append(f"{path}: recorded {_short(recorded[name])}, not sent")
            elif name not in recorded:
                out.append(f"{path}: sent {_short(sent[name])}, not recorded")
            else:
                out += differences(recorded[name], sent[name], path)
        return out
    if isinstance(recorded, list) and isinstance(sent, list):
        out = [f"{where}: {len(recorded)} recorded, {len(sent)} sent"] if len(recorded) != len(sent) else []
        for index, (a, b) in enumerate(zip(recorded, sent, strict=False)):
            out += differences(a, b, f"{where}[{index}]")
        return out
    return [] if recorded == sent else [f"{where}: recorded {_short(recorded)}, sent {_short(sent)}"]


class CassetteError(ValueError):
    """A cassette line that cannot be read."""


class Cassette:
    """The interactions of one cassette file, looked up by request; repeated requests replay in order."""

    def __init__(self, interactions: list[Interaction]) -> None:
        self.interactions = interactions
        self._by_key: dict[str, list[Interaction]] = {}
        for interaction in interactions:
            self._by_key.setdefault(interaction.key, []).append(interaction)
        self._served: dict[str, int] = {}
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str, lenient: bool = False) -> Cassette:
        """Read a cassette file (a missing file is an empty cassette); a bad line raises CassetteError, or with
        `lenient` is skipped with a warning."""
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except FileNotFoundError:
            return cls([])
        interactions: dict[int, Interaction] = {}
        ended: set[int] = set()
        lines = data.split(b"\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                _read_line(line, interactions, ended)
            except CassetteError as exc:
                if number == len(lines):  # the last line, cut off while recording: drop it
                    break
                message = f"{os.path.basename(path)} line {number}: {exc}"
                if not lenient:
                    raise CassetteError(f"{message}; fix or delete the line, or replay with --lenient.") from None
                warnings.warn(f"{message}; skipped.", UserWarning, stacklevel=2)
        return cls([interactions[n] for n in sorted(interactions) if n in ended])

    def find(self, method: str, path: str, body: Any) -> Interaction | None:
        """The recorded answer to this request (the next one, when it was recorded several times)."""
        key = request_key(method, path, body)
        with self._lock:
            found = self._by_key.get(key)
            if not found:
                return None
            index = self._served.get(key, 0)
            self._served[key] = index + 1
            return found[min(index, len(found) - 1)]

    def closest(self, method: str, path: str, body: Any) -> tuple[Interaction | None, list[str]]:
        """The recorded request most like this one, and how they differ."""
        same_route = [i for i in self.interactions if i.path.rstrip("/") == path.rstrip("/")] or self.interactions
        best, best_diff = None, None
        for interaction in same_route:
            diff = differences(interaction.body, fingerprint(body))
            if best_diff is None or len(diff) < len(best_diff):
                best, best_diff = interaction, diff
        return best, best_diff or []


def _read_line(line: bytes, interactions: dict[int, Interaction], ended: set[int]) -> None:
    """Add one cassette line to the interactions read so far (CassetteError says what is wrong with it)."""
    try:
        item = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError:
        raise CassetteError("not UTF-8 text") from None
    except ValueError as exc:
        raise CassetteError(f"not JSON ({exc})") from None
    if not isinstance(item, dict):
        raise CassetteError("not a JSON object")
    number = item.get("interaction")
    if number is None:
        return  # the header
    if "method" in item:
        missing = [k for k in ("method", "path", "status") if k not in item]
        if missing:
            raise CassetteError(f"a request line with no {', '.join(missing)}")
        interactions[number] = Interaction(number, str(item["method"]), str(item["path"]), item.get("body"),
                                           int(item["status"]), dict(item.get("headers") or {}))
    elif number not in interactions:
        raise CassetteError(f"a line of interaction {number}, which has no request line before it")
    elif "data" in item:
        interactions[number].chunks.append((float(item.get("t", 0.0)), str(item["data"])))
    elif "end" in item:
        ended.add(number)


class Recorder:
    """Appends interactions to a cassette file as they happen (a crash keeps what was recorded)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        existing = Cassette.load(path, lenient=True).interactions
        self._next = max((i.number for i in existing), default=0) + 1
        # Only its owner reads a recording (it holds prompts and answers); a line cut off by a crash is removed.
        with open(os.open(path, os.O_RDWR | os.O_CREAT, 0o600), "r+b") as fh:
            os.chmod(path, 0o600)
            data = fh.read()
            if not data.strip():
                fh.write(json.dumps(FORMAT).encode() + b"\n")
            elif not data.endswith(b"\n"):
                fh.truncate(data.rfind(b"\n") + 1)

    def _write(self, item: dict[str, Any]) -> None:
        line = redact(json.dumps(item, ensure_ascii=False)) + "\n"  # every key used so far, %qwen login's too
        with self._lock, open(self.path, "a", encoding="utf-8") as fh:
            fh.write(line)

    def start(self, method: str, path: str, body: Any, status: int, headers: dict[str, str]) -> int:
        """Record a request and its response's status; returns the interaction number for its chunks."""
        with self._lock:
            number, self._next = self._next, self._next + 1
        kept = {k.lower(): v for k, v in headers.items()
                if k.lower() in KEPT_HEADERS and k.lower() not in SECRET_HEADERS}
        self._write({"interaction": number, "method": method, "path": path, "body": fingerprint(body),
                     "status": status, "headers": kept})
        return number

    def chunk(self, number: int, elapsed: float, data: str) -> None:
        self._write({"interaction": number, "t": round(elapsed, 4), "data": data})

    def end(self, number: int, elapsed: float) -> None:
        self._write({"interaction": number, "end": round(elapsed, 4)})
