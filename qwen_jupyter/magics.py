"""QwenMagics: the %%qwen cell magic and the %qwen commands. Kept thin; its traits are the configuration."""

from __future__ import annotations

import difflib
import getpass
import json
import os
import re
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Enum, Float, Int, List, TraitError, Unicode, default, validate

from . import kernel, media
from .api import (
    CASSETTE_ENV,
    CASSETTE_MODE_ENV,
    CASSETTE_MODES,
    DEFAULT_MODEL,
    OFFLINE_MODES,
    ask,
    connect,
    offline_mode,
)
from .errors import QwenError
from .interpolate import evaluate, interpolate
from .notebook import DEFAULT_CHAT, Session
from .parse import FORMATS, MagicArgs, braced_expression, magic_args, split_subcommand
from .request import build_request
from .result import ANSWER_LIMIT, QwenResult
from .settings import APIS, REGIONS, Secret, Settings, settings_from_env
from .store import Store

_CODE_BLOCK = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)


@magics_class
class QwenMagics(Magics):
    """Chat with Qwen models from cells; `%config QwenMagics` lists the settings."""

    model = Unicode(DEFAULT_MODEL, config=True, help="Model id, e.g. qwen-plus, qwen3.5-plus, qwen-vl-max.")
    api = Enum(APIS, "openai", config=True, help="openai (Chat Completions), responses, or dashscope (native).")
    region = Enum(tuple(REGIONS), "beijing", config=True, help="Model Studio region; keys are bound to one.")
    base_url = Unicode(None, allow_none=True, config=True,
                       help="Host root overriding the region, e.g. http://127.0.0.1:8765 (QWEN_JUPYTER_BASE_URL).")
    workspace = Unicode(None, allow_none=True, config=True, help="Workspace id, for workspace hosts.")
    thinking = Bool(None, allow_none=True, config=True, help="Think before answering (None: the model's default).")
    thinking_budget = Int(None, allow_none=True, config=True, help="Most tokens to think with.")
    system = Unicode(None, allow_none=True, config=True, help="System prompt for every conversation.")
    timeout = Float(120.0, config=True, help="Seconds to wait for the service.")
    max_retries = Int(2, config=True, help="Retries for rate limits and server errors before the first token.")
    offline = Enum(OFFLINE_MODES, "auto", config=True,
                   help="on: always the built-in emulator; auto: the emulator when no key is set; off: never. "
                        "Defaults to QWEN_JUPYTER_OFFLINE.")
    cassette = Unicode(None, allow_none=True, config=True,
                       help="Cassette file (JSON lines) to record into or replay from (QWEN_JUPYTER_CASSETTE).")
    cassette_mode = Enum(CASSETTE_MODES, "auto", config=True,
                         help="auto: replay when offline, live otherwise; record; replay (strict); lenient; off. "
                              "Defaults to QWEN_JUPYTER_CASSETTE_MODE.")
    max_table_rows = Int(20, config=True, help="Rows of a DataFrame put into a prompt.")
    display_rate = Float(8.0, config=True, help="Display updates a second while streaming (IOPub allows 1000).")
    max_answer_chars = Int(ANSWER_LIMIT, config=True,
                           help="Characters of answer and reasoning after which a runaway stream is stopped.")
    image_hosts = List(Unicode(), config=True,
                       help="Hosts whose https images an answer may show inline; others are links (no fetch).")
    short_errors = Bool(True, config=True, help="Show failures as one line, not a traceback.")
    db_path = Unicode(None, allow_none=True, config=True, help="SQLite file for conversations (QWEN_JUPYTER_DB).")
    keep_images = Bool(False, config=True,
                       help="Store input images in the database, so they are sent again after a restart "
                            "(off: a digest is stored and earlier images become a note).")

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self._key: Secret | None = None  # from %qwen login; never a trait, never saved
        self._session: Session | None = None
        self._deleted: set[str] = set()
        if shell is not None:
            # JupyterLab reports deleted cells with whichever cell runs next, not only with %%qwen cells.
            shell.events.register("pre_run_cell", self._note_deleted_cells)

    def _note_deleted_cells(self, info: Any = None) -> None:
        self._deleted |= kernel.deleted_cells(self.shell)

    @default("offline")
    def _offline_default(self) -> str:
        return offline_mode()

    @default("cassette")
    def _cassette_default(self) -> str | None:
        return os.environ.get(CASSETTE_ENV) or None

    @default("cassette_mode")
    def _cassette_mode_default(self) -> str:
        mode = os.environ.get(CASSETTE_MODE_ENV) or "auto"
        return mode if mode in CASSETTE_MODES else "auto"

    @validate("timeout")
    def _check_timeout(self, proposal: Any) -> float:
        if proposal["value"] <= 0:
            raise TraitError("QwenMagics.timeout must be positive.")
        return proposal["value"]

    @validate("max_retries", "thinking_budget", "max_table_rows", "max_answer_chars")
    def _check_count(self, proposal: Any) -> int | None:
        value = proposal["value"]
        if value is not None and value < 0:
            raise TraitError(f"QwenMagics.{proposal['trait'].name} cannot be negative.")
        return value

    @property
    def session(self) -> Session:
        """This notebook's conversations and results (opened on first use)."""
        notebook = kernel.notebook_id(self.shell)
        if self._session is None or self._session.notebook != notebook:
            self._session = Session(notebook, Store(self.db_path or None, keep_images=self.keep_images))
        return self._session

    @magic_arguments()
    @argument("-m", "--model", help="model id (default: QwenMagics.model)")
    @argument("--api", choices=APIS, help="which API carries the request")
    @argument("--region", choices=tuple(REGIONS), help="Model Studio region")
    @argument("--think", dest="think", action="store_const", const=True, help="think before answering")
    @argument("--no-think", dest="think", action="store_const", const=False, help="answer without thinking")
    @argument("--budget", type=int, help="most tokens to think with")
    @argument("-s", "--system", help="system prompt for this request")
    @argument("-i", "--image", dest="images", action="append", help="image path, URL or {variable}; repeatable")
    @argument("--video", dest="videos", action="append", help="video file, URL or {frames}; repeatable")
    @argument("--audio", dest="audios", action="append", help="audio file or URL; repeatable")
    @argument("-o", "--out", help="also store the result in this variable")
    @argument("-c", "--chat", help="named conversation (default: the notebook's default chat)")
    @argument("--new", action="store_true", help="start the conversation afresh")
    @argument("--once", action="store_true", help="no history: ask this alone and do not record it")
    @argument("-t", "--temperature", type=float, help="sampling temperature in [0, 2)")
    @argument("--max-tokens", type=int, help="most tokens in the answer")
    @argument("--seed", type=int, help="sampling seed")
    @argument("--search", action="store_true", help="let the model search the web; sources are listed")
    @argument("--json", action="store_true", help="JSON mode; the parsed value is result.json()")
    @argument("-f", "--format", choices=FORMATS, default="markdown", help="markdown, text, or code (new cell)")
    @argument("-q", "--quiet", action="store_true", help="no display; the result is only stored")
    @argument("--debug", action="store_true", help="show tracebacks")
    @argument("prompt", nargs="*", help="the prompt, for the one-line %%qwen form")
    @no_var_expand
    @line_cell_magic
    def qwen(self, line: str, cell: str | None = None) -> QwenResult | None:
        """Ask a Qwen model; the answer streams into the cell and the result is stored in `_qwen`.

        Examples
        --------
        %%qwen
        Explain {df.shape[0]} rows of data in one sentence.

        %%qwen -m qwen-vl-max -i photo.jpg -o caption
        Describe this picture.

        %%qwen --think --budget 500 -c maths
        Is 2**61 - 1 prime?

        %qwen history        %qwen chats        %qwen reset NAME       %qwen usage
        %qwen login          %qwen export NAME FILE    %qwen log search TERM    %qwen offline on|off|auto
        %qwen panel [NAME]   a chat panel on the same conversations
        %qwen record PATH    %qwen replay PATH [--lenient]    %qwen cassette PATH    %qwen live
        """
        subcommand = split_subcommand(line) if cell is None else None
        if subcommand:
            return self._subcommand(*subcommand)
        args = magic_args(self._parse_line(line), cell)
        if not args.prompt.strip():
            raise UsageError("Nothing to ask: write the prompt in the cell below %%qwen (or after %qwen).")
        try:
            return self._ask(args, source=line + "\n" + (cell or ""))
        except QwenError as error:
            if self.short_errors and not args.debug:
                raise UsageError(error.summary()) from None
            raise

    def _parse_line(self, line: str) -> Any:
        """The options on the magic line; a wrong one gets a short usage and a suggestion."""
        try:
            return parse_argstring(self.qwen, line)
        except UsageError as error:
            options = [o for action in self.qwen.parser._actions for o in action.option_strings]
            typed = re.findall(r"(--?[\w-]+)", str(error))
            guesses = difflib.get_close_matches(typed[0], options, n=1) if typed else []
            hint = f" Did you mean {guesses[0]}?" if guesses else ""
            raise UsageError(f"{error}.{hint}\nOptions: {' '.join(o for o in options if o.startswith('--'))} "
                             "(%qwen help explains them).") from None

    def _ask(self, args: MagicArgs, source: str) -> QwenResult | None:
        """Build the request (nothing is sent if that fails), then return the streaming result."""
        namespace = self.shell.user_ns
        prompt, pictures = interpolate(args.prompt, namespace, self.max_table_rows)
        inputs = [media.image(p) for p in pictures]
        inputs += [media.image(self._value(v)) for v in args.images]
        inputs += [media.video(self._value(v)) for v in args.videos]
        inputs += [media.audio(self._value(v)) for v in args.audios]
        session, chat, key = self.session, args.chat or DEFAULT_CHAT, kernel.cell_id(self.shell, source)
        session.forget(self._deleted | kernel.deleted_cells(self.shell))
        self._deleted.clear()
        if args.new:
            session.reset(chat)
        history = () if args.once else session.conversation(chat).context_for(key)
        request = build_request(
            args.model or self.model, prompt, media=inputs, system=args.system or self.system, history=history,
            thinking=args.think if args.think is not None else self.thinking,
            thinking_budget=args.budget if args.budget is not None else self.thinking_budget,
            temperature=args.temperature, max_tokens=args.max_tokens, seed=args.seed, search=args.search,
            json_mode=args.json,
        )

        def completed(result: QwenResult) -> None:
            if args.once:
                session.results.append(result)
            else:
                session.record(chat, key, request.messages[-1], result)
            if args.format == "code" and result.text:
                blocks = _CODE_BLOCK.findall(result.text)
                self.shell.set_next_input("\n".join(b.rstrip() for b in blocks) or result.text, replace=False)

        result = ask(request, self._settings(args), on_complete=completed, max_answer_chars=self.max_answer_chars)
        result.view_options = {"rate": self.display_rate, "plain": args.format == "text",
                               "image_hosts": tuple(self.image_hosts)}
        namespace["_qwen"] = result
        if args.out:
            namespace[args.out] = result
        if args.quiet:
            result.wait()
            return None
        return result  # IPython displays it, which streams it (QwenResult._ipython_display_)

    def _value(self, text: str) -> Any:
        expression = braced_expression(text)
        return evaluate(expression, self.shell.user_ns) if expression else text

    def _settings(self, args: MagicArgs) -> Settings:
        """Settings for one request: the environment, then traits and `%qwen login`, then this cell's options."""
        settings = settings_from_env(
            api=args.api or self.api, region=args.region or self.region, workspace=self.workspace,
            timeout=self.timeout, max_retries=self.max_retries, base_url=self.base_url, api_key=self._key,
        )
        return connect(settings, self.offline, self.cassette, self.cassette_mode)

    # -- %qwen subcommands ---------------------------------------------------------------------------------------

    def _subcommand(self, name: str, rest: str) -> Any:
        handlers = {
            "help": lambda _: print(self.qwen.__doc__), "login": self._login, "history": self._history,
            "chats": self._chats, "reset": self._reset, "export": self._export, "usage": self._usage,
            "log": self._log, "offline": self._offline, "config": self._config, "panel": self._panel,
            "record": self._record, "replay": self._replay, "cassette": self._cassette, "live": self._live,
        }
        return handlers[name](rest)

    def _panel(self, rest: str) -> Any:
        from .panel import open_panel  # anywidget loads only when a panel is asked for

        return open_panel(self, rest or DEFAULT_CHAT)

    def _login(self, rest: str) -> None:
        key = getpass.getpass("DashScope API key (kept in this kernel only): ").strip()
        if not key:
            raise UsageError("No key entered; nothing changed.")
        self._key = Secret(key)
        print("Key set for this kernel session. It is not saved and never shown.")

    def _history(self, rest: str) -> None:
        conversation = self.session.chats.get(rest or DEFAULT_CHAT)
        if not conversation or not conversation.turns:
            print(f"The {rest or DEFAULT_CHAT!r} chat is empty.")
            return
        for number, turn in enumerate(conversation.turns, 1):
            note = "" if turn.status == "ok" else f" [{turn.status}]"
            print(f"[{number}] you: {_clip(turn.user.text)}")
            print(f"    {turn.model}{note}: {_clip(turn.assistant.text)}")

    def _chats(self, rest: str) -> None:
        chats = self.session.chats
        if not chats:
            print("No conversations in this notebook yet.")
        for name, conversation in chats.items():
            print(f"{name}: {len(conversation.turns)} turns, {conversation.tokens()} tokens")

    def _reset(self, rest: str) -> None:
        self.session.reset(rest or DEFAULT_CHAT)
        print(f"Chat {rest or DEFAULT_CHAT!r} is empty now.")

    def _export(self, rest: str) -> None:
        parts = rest.split(maxsplit=1)
        if len(parts) != 2:
            raise UsageError("Usage: %qwen export NAME FILE")
        name, path = parts
        conversation = self.session.chats.get(name)
        if conversation is None:
            raise UsageError(f"No chat named {name!r}; %qwen chats lists them.")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"chat": name, "messages": conversation.messages()}, fh, ensure_ascii=False, indent=1)
        print(f"Wrote {len(conversation.turns)} turns of {name!r} to {path}.")

    def _usage(self, rest: str) -> None:
        total = 0
        for name, conversation in self.session.chats.items():
            total += conversation.tokens()
            print(f"{name}: {conversation.tokens()} tokens")
        print(f"total: {total} tokens")

    def _log(self, rest: str) -> None:
        verb, _, term = rest.partition(" ")
        if verb != "search" or not term.strip():
            raise UsageError("Usage: %qwen log search TERM")
        session = self.session
        rows = session.store.search(session.notebook, term.strip()) if session.store else []
        if not rows:
            print(f"Nothing logged mentions {term.strip()!r}.")
        for row in rows:
            print(f"[{row['chat']}] {row['model']}: {_clip(row['text'] or row['error'] or '')}")

    def _offline(self, rest: str) -> None:
        if rest not in ("on", "off", "auto"):
            raise UsageError("Usage: %qwen offline on|off|auto")
        self.offline = rest
        print(f"Offline mode: {rest}.")

    def _record(self, rest: str) -> None:
        if not rest:
            raise UsageError("Usage: %qwen record PATH")
        self.cassette, self.cassette_mode = rest, "record"
        print(f"Recording every request and its answer into {rest} (the key is never written).")

    def _replay(self, rest: str) -> None:
        words = rest.split()
        paths = [w for w in words if not w.startswith("--")]
        if len(paths) != 1 or set(words) - {*paths, "--lenient"}:
            raise UsageError("Usage: %qwen replay PATH [--lenient]")
        self.cassette, self.cassette_mode = paths[0], "lenient" if "--lenient" in words else "replay"
        print(f"Answers come from {paths[0]}" + (" (generated where it has none)." if "--lenient" in words else "."))

    def _cassette(self, rest: str) -> None:
        if not rest:
            raise UsageError("Usage: %qwen cassette PATH")
        self.cassette = rest  # the mode stays (auto unless QWEN_JUPYTER_CASSETTE_MODE says record, for example)
        print(f"Cassette {rest} ({self.cassette_mode}): offline, answers come from it; with a key, from Model Studio.")

    def _live(self, rest: str) -> None:
        self.cassette_mode = "off"
        print("Live: no cassette is recorded or replayed.")

    def _config(self, rest: str) -> None:
        settings = self._settings(MagicArgs(prompt=""))
        print(f"{self.model} via {settings.describe()}; key {'set' if settings.api_key else 'not set'}")


def _clip(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
