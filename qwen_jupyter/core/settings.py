"""Where requests go and how: region hosts, the base_url override, the key, timeouts. Resolved once per call."""

from __future__ import annotations

import ipaddress
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import QwenError, remember_secret

# Region name -> (public host, region id used in workspace hosts). Frankfurt and Tokyo have workspace hosts only.
REGIONS: dict[str, tuple[str | None, str]] = {
    "beijing": ("https://dashscope.aliyuncs.com", "cn-beijing"),
    "singapore": ("https://dashscope-intl.aliyuncs.com", "ap-southeast-1"),
    "virginia": ("https://dashscope-us.aliyuncs.com", "us-east-1"),
    "hongkong": ("https://cn-hongkong.dashscope.aliyuncs.com", "cn-hongkong"),
    "frankfurt": (None, "eu-central-1"),
    "tokyo": (None, "ap-northeast-1"),
}
APIS = ("openai", "responses", "dashscope")
ANSWER_LIMIT = 4_000_000  # characters of answer and reasoning; real answers stay far below (32k tokens ~ 130 kB)


class Secret(str):
    """A string whose repr and str never show the value (the API key); errors, logs and cassettes redact it."""

    def __new__(cls, value: str) -> Secret:
        if isinstance(value, Secret):  # str() of a Secret is "***": wrapping one again must keep the value
            value = value.reveal()
        remember_secret(value)
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"

    def reveal(self) -> str:
        """The real value, for the one place that sends it."""
        return str.__str__(self)


@dataclass(frozen=True)
class Settings:
    """Everything a backend needs to reach the service; the magic, the panel and chat() all build one."""

    api: str = "openai"
    region: str = "beijing"
    base_url: str | None = None
    workspace: str | None = None
    api_key: Secret | None = field(default=None, repr=False)
    timeout: float = 120.0
    max_retries: int = 2
    responses_legacy_path: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    route: str = "live"  # live, emulator, replay, or "recorded, …" (what routing.route decided)

    def __post_init__(self) -> None:
        if self.api_key is not None and not isinstance(self.api_key, Secret):
            object.__setattr__(self, "api_key", Secret(self.api_key))  # a plain string never reaches a repr
        if self.api not in APIS:
            raise QwenError(f"Unknown api {self.api!r}; choose one of {', '.join(APIS)}.", code="InvalidOption")
        if self.region not in REGIONS:
            raise QwenError(
                f"Unknown region {self.region!r}; choose one of {', '.join(REGIONS)}.", code="InvalidOption"
            )

    @property
    def host(self) -> str:
        """The host root every API path hangs off: base_url if set, else the workspace or region host."""
        if self.base_url:
            return self.base_url.rstrip("/")
        public, region_id = REGIONS[self.region]
        if self.workspace:
            return f"https://{self.workspace}.{region_id}.maas.aliyuncs.com"
        if public is None:
            raise QwenError(
                f"The {self.region} region is served through workspace hosts only; set QwenMagics.workspace.",
                code="InvalidOption",
            )
        return public

    @property
    def compatible_url(self) -> str:
        return self.host + "/compatible-mode/v1"

    @property
    def responses_url(self) -> str:
        if self.responses_legacy_path:
            return self.host + "/api/v2/apps/protocols/compatible-mode/v1"
        return self.compatible_url

    @property
    def native_url(self) -> str:
        return self.host + "/api/v1"

    def key(self) -> str:
        """The key to send, or a clear error when there is none."""
        if self.api_key:
            warn_plain_http(self.host)
            return self.api_key.reveal()
        raise QwenError(
            "No API key: set DASHSCOPE_API_KEY, run %qwen login, or use the emulator.",
            code="NoApiKey",
            hint="",
        )

    def describe(self) -> str:
        """Where requests go, for error hints (never the key)."""
        where = "" if self.route == "live" else f" ({self.route})"
        return f"{self.api} API at {self.host}{where}"


# The notebook's settings: in a kernel where the extension is loaded, QwenMagics' configuration (%config) is what
# every way of asking starts from (the magic, the panel, chat(), map(), …); explicit arguments win over it.
_configured: Callable[[], dict[str, Any]] | None = None


def configure_from(provider: Callable[[], dict[str, Any]] | None) -> None:
    """Make `provider` (the loaded extension's settings, read on each call) the notebook's settings."""
    global _configured
    _configured = provider


def configured(name: str, default: Any = None) -> Any:
    """The notebook's setting `name` (a QwenMagics trait, or `api_key` from %qwen login), else `default`."""
    value = _configured().get(name) if _configured is not None else None
    return default if value is None else value


_warned_hosts: set[str] = set()


def warn_plain_http(url: str) -> None:
    """Warn once per host before a key goes unencrypted (plain http) to a host that is not this machine."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "http" or host in _warned_hosts or _is_loopback(host):
        return
    _warned_hosts.add(host)
    warnings.warn(f"The API key is sent over plain http to {host}; anyone on the network can read it. "
                  "Use https:// in base_url.", UserWarning, stacklevel=3)


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
