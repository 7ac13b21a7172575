"""Every %%qwen option, declared once: the parser, MagicArgs (what the magic hands on), the help and the typo
hints all come from this list, so an option cannot be parsed and then silently dropped.

Each option names its flags, its help and how argparse reads it; the MagicArgs field it fills is its long flag's
name (or `field`), and the field's type follows from how it is read: a switch is a bool, a repeatable option a
tuple, `store_const` a bool or None, a typed value that type or None (None: use the configured default).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, make_dataclass
from typing import Any

from IPython.core.magic_arguments import argument, argument_group, magic_arguments

from ..core.options import DEFAULT_TOP
from ..core.settings import APIS, REGIONS
from ..core.speech import DEFAULT_VOICE

FORMATS = ("markdown", "text", "code")
SEARCH_STRATEGIES = ("turbo", "max", "agent", "agent_max")


@dataclass(frozen=True)
class Option:
    """One option of %%qwen: its flags, help, the MagicArgs field it fills and how argparse reads it."""

    flags: tuple[str, ...]
    help: str
    name: str  # of the MagicArgs field it fills
    how: dict[str, Any] = field(default_factory=dict)  # argparse's keywords: action, type, choices, nargs, …
    needs: tuple[str, ...] = ()  # options one of which it goes with; alone it is refused, not ignored

    @property
    def kind(self) -> tuple[Any, Any]:
        """The MagicArgs field's type and default."""
        action, default = self.how.get("action"), self.how.get("default")
        if action == "store_true":
            return bool, False
        if action == "append":
            return tuple[str, ...], ()
        if action == "store_const":
            return bool | None, None
        if default is not None:
            return type(default), default
        return self.how.get("type", str) | None, None


def _option(*flags: str, help: str, needs: tuple[str, ...] = (), **how: Any) -> Option:  # noqa: A002 - argparse's
    name = how.get("dest") or max(flags, key=len).lstrip("-").replace("-", "_")
    return Option(flags, help, name, {"dest": name, **how} if flags[0].startswith("-") else how, needs)


GROUPS: tuple[tuple[str, tuple[Option, ...]], ...] = (
    ("Model and API", (
        _option("-m", "--model", help="model id (default: QwenMagics.model)"),
        _option("--api", choices=APIS, help="which API carries the request"),
        _option("--region", choices=tuple(REGIONS), help="Model Studio region"),
    )),
    ("Thinking", (
        _option("--think", dest="think", action="store_const", const=True, help="think before answering"),
        _option("--no-think", dest="think", action="store_const", const=False, help="answer without thinking"),
        _option("--budget", type=int, help="most tokens to think with"),
    )),
    ("What is sent", (
        _option("-s", "--system", help="system prompt for this request"),
        _option("-i", "--image", dest="images", action="append", help="image path, URL or {variable}; repeatable"),
        _option("--video", dest="videos", action="append", help="video file, URL or {frames}; repeatable"),
        _option("--audio", dest="audios", action="append", help="audio file or URL; repeatable"),
        _option("--raw", action="store_true", help="send the prompt as typed ({…} is not filled in)"),
    )),
    ("Conversation", (
        _option("-c", "--chat", help="named conversation (default: the notebook's default chat)"),
        _option("--new", action="store_true", help="start the conversation afresh"),
        _option("--once", action="store_true", help="no history: ask this alone and do not record it"),
    )),
    ("Sampling and tools", (
        _option("-t", "--temperature", type=float, help="sampling temperature in [0, 2)"),
        _option("--max-tokens", type=int, help="most tokens in the answer"),
        _option("--seed", type=int, help="sampling seed"),
        _option("--search", action="store_true", help="let the model search the web; sources are listed"),
        _option("--forced-search", action="store_true", help="always search (implies --search)"),
        _option("--search-strategy", choices=SEARCH_STRATEGIES,
                help="turbo, max, agent or agent_max (implies --search)"),
        _option("--json", action="store_true", help="JSON mode; the parsed value is result.json()"),
    )),
    ("Tools", (
        _option("--tools", help="functions the model may call, by name: f,g (or {[f, g]}); they run in the kernel"),
        _option("--mcp", metavar="SERVERS",
                help="the tools of these MCP servers (QwenMagics.mcp_servers), by name: calc,docs; %%qwen mcp lists "
                     "them"),
        _option("--mcp-prefix", needs=("--mcp",), action="store_true",
                help="name each MCP tool server_tool (when two servers have a tool of one name)"),
        _option("--max-rounds", needs=("--tools", "--mcp", "--agent"), type=int, help="most rounds of tool calls before stopping (default 8)"),
        _option("--confirm", needs=("--tools", "--mcp", "--agent"), action="store_true", help="ask before running each tool call"),
        _option("--agent", action="store_true",
                help="the notebook agent: the model may look at your variables and run code here, each run shown "
                     "and approved first (run_python, list_variables, describe, last_error)"),
        _option("--yes", needs=("--tools", "--mcp", "--agent"), action="store_true", help="approve every call of this cell (for runs you trust)"),
        _option("--code-interpreter", action="store_true",
                help="let the model run code on the service (models that have it, e.g. qwen3-max thinking; shown "
                     "like a tool call)"),
    )),
    ("Images and speech", (
        _option("--size", help="image size W*H (or WxH), e.g. 1024*1024"),
        _option("-n", "--count", type=int, help="how many images to make"),
        _option("--negative", help="what the image should not show (negative prompt)"),
        _option("--extend", dest="prompt_extend", action="store_const", const=True,
                help="let the service rewrite the prompt for a better image"),
        _option("--no-extend", dest="prompt_extend", action="store_const", const=False,
                help="use the prompt exactly as written"),
        _option("--speak", nargs="?", const=DEFAULT_VOICE, metavar="VOICE",
                help="answer aloud too (Omni models), in VOICE (default Cherry; others: --speak=VOICE)"),
    )),
    ("Data", (
        _option("--map", dest="map_data", metavar="DATA",
                help="the cell is a template run over every row of DATA (a DataFrame or list); {column} fills per "
                     "row"),
        _option("--into", needs=("--map",), help="with --map: the answers' column (default: answer)"),
        _option("--schema", needs=("--map",), help="with --map: a pydantic model, dataclass or JSON schema by name; a column a field"),
        _option("--batch", needs=("--map",), action="store_true", help="with --map: through the Batch API (half price, hours)"),
        _option("--concurrency", needs=("--map",), type=int, help="with --map: requests at once (default 8)"),
        _option("--dry-run", needs=("--map",), action="store_true", help="with --map: show what would be sent, send nothing"),
        _option("--labels", needs=("--map",), help="with --map: one of these labels a row (pos,neg,neutral), with its confidence: "
                "columns {into}, {into}_confidence, {into}_model, {into}_error (into: label)"),
        _option("--filter", needs=("--map",), action="store_true",
                help="with --map: the cell is a yes/no question; the rows answered yes (into: keep)"),
        _option("--models", needs=("--labels", "--filter"), metavar="MODELS",
                help="with --labels or --filter: a cascade, cheapest first (qwen-flash,qwen3-max): rows below "
                     "--threshold go on to the next"),
        _option("--threshold", needs=("--models",), type=float, help="with --models: the confidence below which a row goes on (0.9)"),
        _option("--probe", needs=("--models",), type=int, metavar="N",
                help="with --models and --dry-run: send N rows to the first model to measure how many go on"),
    )),
    ("Specialised", (
        _option("--logprobs", nargs="?", const=str(DEFAULT_TOP), metavar="K",
                help="token log probabilities, each token shaded, K alternatives on hover (default 3, at most 5); "
                     "result.logprobs"),
        _option("--compare", metavar="MODELS",
                help="the same prompt to several models at once, side by side: qwen-plus,qwen-max"),
        _option("--prefix", help="continue from this start of the answer (prefix continuation)"),
        _option("--preset", help="sampling preset: creative, code, factual, translation (or QwenMagics.presets)"),
        _option("--to", metavar="LANGUAGE", help="translate the cell into LANGUAGE with Qwen-MT, e.g. English"),
        _option("--from", needs=("--to",), dest="source", metavar="LANGUAGE", help="with --to: the source language (default auto)"),
        _option("--terms", needs=("--to",), help="with --to: term translations, {variable} or JSON {source: target}"),
        _option("--domain", needs=("--to",), help="with --to: the domain and style, in English, e.g. 'This text is a contract.'"),
        _option("--memory", needs=("--to",), help="with --to: translation memory, {variable} or JSON {source: target}"),
        _option("--ocr", metavar="TASK", help="read an image with a built-in OCR task (qwen-vl-ocr): "
                "text_recognition, table_parsing, key_information_extraction, formula_recognition, …"),
        _option("--fields", needs=("--ocr",), help="with --ocr key_information_extraction: the fields to extract, {variable} or JSON"),
        _option("--file", dest="files", action="append", metavar="PATH",
                help="a document for qwen-long (uploaded once, cached by content); repeatable"),
    )),
    ("Output", (
        _option("-o", "--out", help="also store the result in this variable"),
        _option("-f", "--format", choices=FORMATS, default="markdown", help="markdown, text, or code (new cell)"),
        _option("-q", "--quiet", action="store_true", help="no display; the result is only stored"),
        _option("--debug", action="store_true", help="show tracebacks"),
    )),
)
PROMPT = _option("prompt", nargs="*", help="the prompt, for the one-line %%qwen form")
OPTIONS: tuple[Option, ...] = tuple(option for _, group in GROUPS for option in group)
CONTRADICTIONS = tuple((a.flags[-1], b.flags[-1]) for a, b in zip(OPTIONS, OPTIONS[1:], strict=False)
                       if a.name == b.name and a.how.get("action") == "store_const")  # --think / --no-think


def _fields() -> list[tuple[str, Any, Any]]:
    found: dict[str, tuple[Any, Any]] = {}
    for option in OPTIONS:
        found.setdefault(option.name, option.kind)  # --think and --no-think fill one field
    return [("prompt", str)] + [(name, kind, field(default=default)) for name, (kind, default) in found.items()]


MagicArgs = make_dataclass("MagicArgs", _fields(), frozen=True)
MagicArgs.__module__ = __name__
MagicArgs.__doc__ = "The options of one %%qwen cell (None means: use the configured default), from OPTIONS."


def declared(function: Callable[..., Any]) -> Callable[..., Any]:
    """The magic with every option of GROUPS (and the prompt) as IPython's magic_arguments, in this order."""
    function = argument(*PROMPT.flags, help=PROMPT.help, **PROMPT.how)(function)
    for group, options in reversed(GROUPS):
        for option in reversed(options):
            function = argument(*option.flags, help=option.help, **option.how)(function)
        function = argument_group(group)(function)
    return magic_arguments()(function)


def unmet(args: Any) -> str | None:
    """The first option given without one it goes with, as a usage line (None when every one has its partner)."""
    by_flag = {option.flags[-1]: option for option in OPTIONS}

    def given(option: Option) -> bool:
        return getattr(args, option.name) != option.kind[1]

    for option in OPTIONS:
        if option.needs and given(option) and not any(given(by_flag[flag]) for flag in option.needs):
            partners = " or ".join(option.needs)
            return f"{option.flags[-1]} goes with {partners}: add {'one' if len(option.needs) > 1 else 'it'}, " \
                   f"or leave {option.flags[-1]} out (nothing was sent)."
    return None

