"""The `%qwen NAME …` commands: one registry that the magic's dispatch, `%qwen help` and typo hints all read.

Each command is a small function of the magics object (its session and traits) and the rest of the line.
"""

from __future__ import annotations

import difflib
import getpass
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError

from ..core.interpolate import RULE
from ..core.settings import Secret
from ..core.text import printable
from ..engine.routing import offline_mode
from ..state.session import DEFAULT_CHAT


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    group: str
    run: Callable[[Any, str], Any]


COMMANDS: dict[str, Command] = {}
GROUPS = ("Conversations", "The notebook agent", "Data", "Keys and where requests go", "Cassettes", "Panel and help")


def command(usage: str, summary: str, group: str) -> Callable[[Callable[[Any, str], Any]], Callable[[Any, str], Any]]:
    """Register a `%qwen` command under the first word of its usage."""

    def register(run: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
        name = usage.split()[1]
        COMMANDS[name] = Command(name, usage, summary, group, run)
        return run

    return register


def find(line: str) -> tuple[Command, str] | None:
    """The command a `%qwen` line names, with the rest of the line; None when the line is a prompt."""
    word, _, rest = line.strip().partition(" ")
    if word in COMMANDS:
        return COMMANDS[word], rest.strip()
    if word and not rest.strip() and not word.startswith("-"):
        guesses = difflib.get_close_matches(word.lower().rstrip("?!."), list(COMMANDS), n=1, cutoff=0.75)
        if guesses:
            raise UsageError(f"%qwen {word}: no such command; did you mean %qwen {guesses[0]}? "
                             "(To ask a one-word question, put it in a %%qwen cell.)")
    return None


def help_text(options: str) -> str:
    """The whole help: the magic's options (grouped), the commands (grouped) and the interpolation rule."""
    lines = [options.strip().removeprefix("::").strip(), "", "Commands:"]  # the usage is an rST literal block
    for group in GROUPS:
        lines.append(f"  {group}:")
        lines += [f"    {c.usage:<34} {c.summary}" for c in COMMANDS.values() if c.group == group]
    return "\n".join(lines + ["", "Variables in prompts:", *("  " + line for line in RULE.splitlines())])


def _say(text: str) -> None:
    """Print a command's line: what a model or a server wrote in it (answers, file names, batch states, errors)
    cannot move or retitle the terminal, write its clipboard or fake a link."""
    print(printable(text))


def _clip(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@command("%qwen help", "this help", "Panel and help")
def _help(magics: Any, rest: str) -> None:
    _say(help_text(magics.qwen.__doc__ or ""))


@command("%qwen history [NAME]", "the turns of a chat, as the model will see them", "Conversations")
def _history(magics: Any, rest: str) -> None:
    magics.forget_deleted_cells()
    conversation = magics.session.chats.get(rest or DEFAULT_CHAT)
    if not conversation or not conversation.turns:
        _say(f"The {rest or DEFAULT_CHAT!r} chat is empty.")
        return
    for number, turn in enumerate(conversation.turns, 1):
        note = "" if turn.status == "ok" else f" [{turn.status}]"
        _say(f"[{number}] you: {_clip(turn.user.text)}")
        _say(f"    {turn.model}{note}: {_clip(turn.assistant.text)}")


@command("%qwen chats", "this notebook's chats, with turns and tokens", "Conversations")
def _chats(magics: Any, rest: str) -> None:
    magics.forget_deleted_cells()
    chats = magics.session.chats
    if not chats:
        _say("No conversations in this notebook yet.")
    for name, conversation in chats.items():
        count = len(conversation.turns)
        _say(f"{name}: {count} turn{'' if count == 1 else 's'}, {conversation.tokens()} tokens")


@command("%qwen reset [NAME]", "empty a chat", "Conversations")
def _reset(magics: Any, rest: str) -> None:
    name, chats = rest or DEFAULT_CHAT, magics.session.chats
    if name not in chats and name != DEFAULT_CHAT:  # a typo must not read as done
        close = difflib.get_close_matches(name, list(chats), n=1, cutoff=0.6)
        known = f"did you mean {close[0]!r}? " if close else ""
        _say(f"There is no chat {name!r}, so nothing was reset; {known}%qwen chats lists them.")
        return
    magics.session.reset(name)
    _say(f"Chat {name!r} is empty now.")


@command("%qwen export NAME FILE", "write a chat's messages as JSON", "Conversations")
def _export(magics: Any, rest: str) -> None:
    parts = rest.split(maxsplit=1)
    if len(parts) != 2:
        raise UsageError("Usage: %qwen export NAME FILE")
    name, path = parts
    conversation = magics.session.chats.get(name)
    if conversation is None:
        raise UsageError(f"No chat named {name!r}; %qwen chats lists them.")
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"chat": name, "messages": conversation.messages()}, fh, ensure_ascii=False, indent=1)
    _say(f"Wrote {len(conversation.turns)} turns of {name!r} to {path}.")


@command("%qwen usage", "tokens used and their estimated cost, per chat", "Conversations")
def _usage(magics: Any, rest: str) -> None:
    from ..core.prices import estimate, money, provenance

    total, priced = 0, False
    for name, conversation in magics.session.chats.items():
        total += conversation.tokens()
        costs = [estimate(turn.model, turn.usage) for turn in conversation.turns]
        currencies = {found[1] for found in costs if found}
        spent = None  # a sum only when every turn has a price, in one currency
        if costs and all(costs) and len(currencies) == 1:
            spent = money(sum(found[0] for found in costs if found), currencies.pop())
        priced = priced or spent is not None
        _say(f"{name}: {conversation.tokens()} tokens" + (f", cost ≈ {spent} (estimate)" if spent else ""))
    _say(f"total: {total} tokens")
    if priced:
        _say(provenance(magics.region, dict(magics.prices)))


@command("%qwen log search TERM", "logged requests and answers that mention TERM", "Conversations")
def _log(magics: Any, rest: str) -> None:
    verb, _, term = rest.partition(" ")
    if verb != "search" or not term.strip():
        raise UsageError("Usage: %qwen log search TERM")
    session = magics.session
    rows = session.store.search(session.notebook, term.strip()) if session.store else []
    if not rows:
        _say(f"Nothing logged mentions {term.strip()!r}.")
    for row in rows:
        _say(f"[{row['chat']}] {row['model']}: {_clip(row['text'] or row['error'] or '')}")


@command("%qwen fix [QUESTION]", "ask why the last cell failed: its source and error go along, the fixed code "
         "comes back in a new cell below", "The notebook agent")
def _fix(magics: Any, rest: str) -> Any:
    from ..engine.agent import last_error_report

    found = last_error_report()
    if found is None:
        _say("No cell has raised an error in this session, so there is nothing to fix.")
        return None
    error, cell = found
    prompt = ("This notebook cell failed. Say why in a sentence or two, then give the whole corrected cell as one "
              f"Python code block.\n\nThe cell:\n```python\n{cell.rstrip()}\n```\n\nThe error:\n```\n{error}\n```"
              + (f"\n\n{rest}" if rest else ""))
    return magics.qwen("--raw -f code", prompt)  # as a %%qwen cell: the answer streams, its code goes below


@command("%qwen mcp [NAMES]", "the MCP servers (QwenMagics.mcp_servers), started to list their tools", "The notebook "
         "agent")
def _mcp(magics: Any, rest: str) -> None:
    from ..engine import notebook_mcp  # the MCP client loads only when asked for

    _say(notebook_mcp.listing(rest.strip() or None))


@command("%qwen batches [cancel ID]", "Batch API jobs that --map --batch started, and their state; cancel one",
         "Data")
def _batches(magics: Any, rest: str) -> None:
    from ..core.errors import QwenError
    from ..data import batch as batches  # the Batch API client loads only when asked for

    verb, _, job_id = rest.partition(" ")
    if verb not in ("", "cancel") or (verb == "cancel") != bool(job_id.strip()):
        raise UsageError("Usage: %qwen batches [cancel ID]")
    settings, store = magics.settings(), magics.session.store
    if verb == "cancel":
        stored = batches.cancel(settings, store, job_id.strip())
        _say(f"{stored['id']}: " + ", ".join(f"{b['id']} {b['status']}" for b in stored["batches"]))
        return
    jobs = store.batch_jobs()
    if not jobs:
        _say("No batch jobs yet; %%qwen --map DATA --batch (or qwen_jupyter.map(..., batch=True)) starts one.")
    for stored in jobs:
        note = ""
        if stored["status"] != "collected":
            try:
                batches.refresh(settings, store, stored)
            except QwenError as error:
                note = f" (could not ask the service: {error.summary()})"
        rows = sum(len(b["keys"]) for b in stored["batches"])
        states = ", ".join(f"{b['id']} {b['status']} {(b.get('counts') or {}).get('completed', 0)}/{len(b['keys'])}"
                           for b in stored["batches"])
        _say(f"{stored['id']}  {stored['spec'].get('model')}  {rows:,} rows  {stored['status']}: {states}{note}")


@command("%qwen files [delete ID…|all]", "documents uploaded for qwen-long (--file); delete some or all", "Data")
def _files(magics: Any, rest: str) -> None:
    from ..engine.documents import delete_documents, files_table

    verb, _, ids = rest.partition(" ")
    if verb not in ("", "delete") or (verb == "delete") != bool(ids.strip()):
        raise UsageError("Usage: %qwen files [delete ID …|all]")
    settings = magics.settings()
    files = files_table(settings)
    if verb == "delete":
        chosen = [f["id"] for f in files] if ids.strip() == "all" else ids.split()
        _say(f"Deleted {len(delete_documents(settings, chosen))} document(s).")
        return
    if not files:
        _say("No documents uploaded; %%qwen --file PATH uploads one for qwen-long.")
    for f in files:
        _say(f"{f['id']}  {f['filename']}  {f['bytes']:,} bytes  {f['status']}")


@command("%qwen login", "type the API key (no echo; kept in this kernel only)", "Keys and where requests go")
def _login(magics: Any, rest: str) -> None:
    try:
        key = getpass.getpass("DashScope API key (kept in this kernel only): ").strip()
    except Exception as exc:  # noqa: BLE001 - StdinNotImplementedError and friends: no one can type here
        raise UsageError("%qwen login needs a front end that can ask for input (JupyterLab, Notebook, a terminal); "
                         "here, set DASHSCOPE_API_KEY instead.") from exc
    if not key:
        raise UsageError("No key entered; nothing changed.")
    magics.key = Secret(key)
    _say("Key set for this kernel session. It is not saved and never shown.")


@command("%qwen offline on|off|auto", "answer from the built-in emulator: always, never, or without a key",
         "Keys and where requests go")
def _offline(magics: Any, rest: str) -> None:
    mode = offline_mode(rest) if rest else None
    if mode is None:
        raise UsageError("Usage: %qwen offline on|off|auto (or 1/0, true/false, yes/no).")
    magics.offline = mode
    _say(f"Offline mode: {mode}.")


@command("%qwen config", "the model, where requests go, and whether a key is set", "Keys and where requests go")
def _config(magics: Any, rest: str) -> None:
    settings = magics.settings()
    if settings.route == "live":
        key = "key set" if settings.api_key else "no key"
    else:
        key = "no key needed (the emulator answers)" if "emulator" in settings.route else "answers from a cassette"
    _say(f"{magics.model} via {settings.describe()}; {key}")


@command("%qwen record PATH", "save every request and its answer into a cassette", "Cassettes")
def _record(magics: Any, rest: str) -> None:
    if not rest:
        raise UsageError("Usage: %qwen record PATH")
    folder = os.path.dirname(os.path.abspath(rest))
    if not os.path.isdir(folder):
        raise UsageError(f"%qwen record: the folder {os.path.dirname(rest) or folder} does not exist; make it "
                         "first, or record elsewhere.")
    magics.cassette, magics.cassette_mode = rest, "record"
    _say(f"Recording every request and its answer into {rest} (the key is never written).")


@command("%qwen replay PATH [--lenient]", "answer from a cassette (lenient: generated where it has none)",
         "Cassettes")
def _replay(magics: Any, rest: str) -> None:
    words = rest.split()
    paths = [w for w in words if not w.startswith("--")]
    if len(paths) != 1 or set(words) - {*paths, "--lenient"}:
        raise UsageError("Usage: %qwen replay PATH [--lenient]")
    if not os.path.isfile(paths[0]):
        raise UsageError(f"No cassette at {paths[0]!r}; %qwen record {paths[0]} makes one.")
    magics.cassette, magics.cassette_mode = paths[0], "lenient" if "--lenient" in words else "replay"
    magics.settings()  # reads the cassette now, so a bad line is reported here, not at the next request
    _say(f"Answers come from {paths[0]}" + (" (generated where it has none)." if "--lenient" in words else "."))


@command("%qwen cassette PATH", "replay it when offline, go live with a key", "Cassettes")
def _cassette(magics: Any, rest: str) -> None:
    if not rest:
        raise UsageError("Usage: %qwen cassette PATH")
    magics.cassette = rest  # the mode stays (auto unless QWEN_JUPYTER_CASSETTE_MODE says record, for example)
    _say(f"Cassette {rest}: offline, answers come from it; with a key, from Model Studio.")


@command("%qwen live", "neither record nor replay", "Cassettes")
def _live(magics: Any, rest: str) -> None:
    magics.cassette_mode = "off"
    _say("Live: no cassette is recorded or replayed.")


@command("%qwen panel [NAME]", "a chat panel on this notebook's chat NAME", "Panel and help")
def _panel(magics: Any, rest: str) -> Any:
    from .panel import open_panel  # anywidget loads only when a panel is asked for

    return open_panel(magics, rest or DEFAULT_CHAT)
