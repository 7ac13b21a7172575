"""QwenMagics: the %%qwen cell magic and the %qwen line magic. Kept thin; its traits are the configuration.

A magic is a command: it sends its request when it runs, wherever it stands in the cell, streams the answer into
the output at that point, and a request that fails ends the cell in error (one line), so Run All, nbconvert and
papermill stop. The `%qwen NAME` commands live in commands.py.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand
from traitlets import Bool, Dict, Enum, Float, Int, List, TraitError, Unicode, validate

from ..core.errors import Interrupted, QwenError
from ..core.interpolate import evaluate
from ..core.models import DEFAULT_MODEL
from ..core.settings import ANSWER_LIMIT, APIS, REGIONS, Secret, Settings, configure_from
from ..engine.routing import CASSETTE_MODES, OFFLINE_WORDS, offline_mode, route
from ..state.session import DEFAULT_CHAT, Session
from . import commands, kernel
from .options import CONTRADICTIONS, MagicArgs, declared, unmet
from .parse import braced_expression, magic_args, split_line

if TYPE_CHECKING:  # the engine, the result and the views load with the first question, not with %load_ext
    from ..core.result import QwenResult
    from ..engine.comparison import Comparison
    from ..engine.question import Question

_CODE_BLOCK = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)


def _search_options(args: MagicArgs) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.forced_search:
        options["forced_search"] = True
    if args.search_strategy:
        options["search_strategy"] = args.search_strategy
    return options


def _usage_line(message: str, parser: Any) -> str:
    """argparse's complaint as one line: a typo names the option it begins or resembles; an option without its
    value says what the value is."""
    import difflib

    options = {o: action for action in parser._actions for o in action.option_strings}
    missing = re.match(r"argument ([-\w/]+): expected (?:one|at least one) argument", message)
    if missing:
        action = next(a for o, a in options.items() if o in missing[1].split("/"))
        return f"{missing[1]} needs a value: {action.help}."
    typed = re.findall(r"(--?[\w-]+)", message.partition(":")[2] or message)
    if "unrecognized arguments" in message and typed:
        guesses = ([o for o in options if o.startswith(typed[0]) and len(typed[0]) > 2]
                   + difflib.get_close_matches(typed[0], list(options), n=2, cutoff=0.75))
        guesses = list(dict.fromkeys(guesses))[:2]
        hint = f"; did you mean {' or '.join(guesses)}?" if guesses else ""
        return f"{typed[0]} is not an option of %qwen{hint} (%qwen help lists them)"
    return message.rstrip(".") + " (%qwen help lists the options)."


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
    offline = Unicode(None, allow_none=True, config=True,
                      help="on: always the built-in emulator; auto: the emulator when no key is set; off: never "
                           "(1, true, yes and 0, false, no say on and off). None: QWEN_JUPYTER_OFFLINE, else auto.")
    cassette = Unicode(None, allow_none=True, config=True,
                       help="Cassette file (JSON lines) to record into or replay from (QWEN_JUPYTER_CASSETTE).")
    cassette_mode = Enum(CASSETTE_MODES, None, allow_none=True, config=True,
                         help="auto: replay when offline, live otherwise; record; replay (strict); lenient; off. "
                              "None: QWEN_JUPYTER_CASSETTE_MODE, else auto.")
    interpolate = Bool(True, config=True, help="Fill {variables} into prompts (False: send prompts as typed).")
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

    map_preview_above = Int(1000, allow_none=True, config=True,
                            help="%%qwen --map sends more requests than this only after a preview; None: always.")
    prices = Dict(config=True, help="Your prices per million tokens by model, e.g. {'qwen-plus': {'input': 0.8, "
                  "'output': 2.0, 'cached_input': 0.16}}, for the cost estimates of --map, the operators, %qwen "
                  "usage and the footer; they win over the built-in table (qwen_jupyter.core.prices).")
    presets = Dict(config=True, help="Your own --preset values by name, e.g. {'poem': {'temperature': 1.2, "
                   "'top_p': 0.95}}; they override the built-in creative, code, factual and translation.")
    mcp_servers = Dict(config=True, help="MCP servers whose tools --mcp NAME offers, by name: {'calc': {'command': "
                       "['python', 'calc.py'], 'env': {...}}} (stdio) or {'docs': {'url': 'http://…/mcp'}} "
                       "(streamable HTTP), either with 'timeout' (seconds a call may take); started on first use, "
                       "stopped with the kernel. Needs the mcp extra.")

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell, **kwargs)
        self.key: Secret | None = None  # from %qwen login; never a trait, never saved
        self._session: Session | None = None
        self._asks = ("", 0)  # (execution, asks so far in it): each ask in a loop is its own turn
        self.qwen.parser.allow_abbrev = False  # --fiel is a typo of --file to point out, not --fields to guess
        if shell is not None:
            # JupyterLab reports deleted cells with whichever cell runs next (also the one loading us).
            shell.events.register("pre_run_cell", self.forget_deleted_cells)
            configure_from(self.configuration)  # %config is the notebook's settings for chat(), map(), the panel

    def configuration(self) -> dict[str, Any]:
        """The notebook's settings: every configurable trait, and the key typed with %qwen login."""
        return {name: getattr(self, name) for name in self.trait_names(config=True)} | {"api_key": self.key}

    def forget_deleted_cells(self, info: Any = None) -> None:
        """Drop the turns of the cells the front end says were deleted (in memory and in the database)."""
        deleted = kernel.deleted_cells(self.shell)
        if deleted:
            self.session.forget(deleted)

    @validate("timeout")
    def _check_timeout(self, proposal: Any) -> float:
        if proposal["value"] <= 0:
            raise TraitError("QwenMagics.timeout must be positive.")
        return proposal["value"]

    @validate("offline")
    def _check_offline(self, proposal: Any) -> str | None:
        value = proposal["value"]
        if value is None:
            return None
        mode = offline_mode(value)
        if mode is None:
            raise TraitError(f"QwenMagics.offline must be {OFFLINE_WORDS}, not {value!r}.")
        return mode

    @validate("mcp_servers")
    def _check_mcp_servers(self, proposal: Any) -> dict[str, Any]:
        from ..engine.mcp import parse_config  # the MCP client loads with the first server

        try:
            parse_config(proposal["value"])
        except QwenError as error:
            raise TraitError(error.message) from None
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
            from ..state.store import Store  # sqlite3, with the first use of the session

            self._session = Session(notebook, Store(self.db_path or None, keep_images=self.keep_images))
        return self._session

    def settings(self, args: MagicArgs | None = None) -> Settings:
        """Where this request goes: this cell's options, then the traits and `%qwen login`, then the environment."""
        return route(api=args and args.api, region=args and args.region)

    def display_options(self) -> dict[str, Any]:
        """How results are shown (the views' settings, from the traits)."""
        return {"rate": self.display_rate, "image_hosts": tuple(self.image_hosts)}

    @declared
    @no_var_expand
    @line_cell_magic
    def qwen(self, line: str, cell: str | None = None) -> QwenResult | Comparison | None:
        """Ask a Qwen model; the answer streams into the output and the result is stored in `_qwen`.

        Examples
        --------
        %%qwen
        Explain {df.shape[0]} rows of data in one sentence.

        %%qwen -m qwen-vl-max -i photo.jpg -o caption
        Describe this picture.

        %qwen What is the capital of France?

        answer = %qwen Summarise {report} in one line

        %%qwen --map reviews --into label
        Label this review as positive or negative: {text}

        %%qwen --compare qwen-plus,qwen-max
        Explain entropy to a 12-year-old.

        %qwen --to English Bonjour, ça va ?

        %qwen --ocr table_parsing -i receipt.png

        %qwen help lists the options, the commands (history, chats, reset, login, panel, record, …) and how
        {variables} are filled in.
        """
        if line.strip() in ("--help", "-h"):  # what people type first: the help, not a usage error
            line, cell = "help", None
        found = commands.find(line) if cell is None else None
        if found:
            return found[0].run(self, found[1])
        args = magic_args(self._parse_line(line), cell, line)
        alone = unmet(args)
        if alone:
            raise UsageError(alone)
        if cell is None and args.prompt in commands.COMMANDS:  # %qwen -c new history: the command was meant
            raise UsageError(f"'{args.prompt}' is a %qwen command, not a question: write %qwen {args.prompt} … "
                             "on its own (to ask the word, put it in a %%qwen cell).")
        # A picture alone is a question (and --ocr without one is told it needs one).
        if not (args.prompt.strip() or args.images or args.videos or args.audios or args.ocr):
            raise UsageError("Nothing to ask: write the prompt in the cell below %%qwen (or after %qwen).")
        try:
            if args.map_data:
                return self._map(args)
            result = self._ask(args)
        except QwenError as error:
            error.brief = self.short_errors and not args.debug
            raise error from None  # brief: IPython shows its one line (QwenError._render_traceback_)
        if cell is not None or kernel.result_is_unused():
            return None  # the answer was shown as it streamed; `_qwen` (and -o) hold it
        return result

    def _parse_line(self, line: str) -> Any:
        """The options on the magic line; a wrong one is one line naming the nearest option."""
        words = split_line(line)
        for yes, no in CONTRADICTIONS:
            if yes in words and no in words:
                raise UsageError(f"{yes} and {no} contradict each other; keep one.")
        try:
            return self.qwen.parser.parse_args(words)
        except UsageError as error:
            raise UsageError(_usage_line(str(error), self.qwen.parser)) from None

    def _ask(self, args: MagicArgs) -> QwenResult | Comparison:
        """Parse the cell into a Question and hand it to the engine (nothing is sent if it cannot work), show the
        answer as it streams, and raise the error of a request that failed (after showing what came)."""
        from ..core.result import QwenResult
        from ..engine.question import ask_question
        from ..views.compare import show_comparison
        from ..views.show import show

        answer = ask_question(self._question(args), self.session, self.settings(args))
        namespace = self.shell.user_ns
        namespace["_qwen"] = answer
        if args.out:
            namespace[args.out] = answer
        single = isinstance(answer, QwenResult)
        try:
            if args.quiet:
                answer.wait(raise_error=False) if single else answer.wait()
            elif single:
                show(answer, self.shell, plain=args.format == "text", **self.display_options())
            else:  # the models' answers side by side
                show_comparison(answer, rate=min(self.display_rate, 4.0))
        except KeyboardInterrupt:
            raise Interrupted() from None
        for error in [answer.error] if single else answer.errors.values():
            if error is not None:
                raise error
        if args.format == "code":
            self._code_below(answer)
        return answer

    def _question(self, args: MagicArgs) -> Question:
        """What the cell asks, with its {variables}, pictures and tools taken from the notebook."""
        from ..core import media
        from ..core.interpolate import interpolate
        from ..core.speech import speech_options
        from ..core.tools import toolbox
        from ..engine import notebook_mcp
        from ..engine.agent import tools as agent_tools
        from ..engine.approval import approver
        from ..engine.asking import Asking
        from ..engine.comparison import model_list
        from ..engine.question import Question
        from ..engine.rounds import MAX_ROUNDS
        from .specialised import request_options

        prompt, pictures = args.prompt, []
        if self.interpolate and not args.raw:
            prompt, pictures = interpolate(args.prompt, self.shell.user_ns, self.max_table_rows)
        inputs = [media.image(p) for p in pictures]
        inputs += [media.image(self._value(v)) for v in args.images]
        inputs += [media.video(self._value(v)) for v in args.videos]
        inputs += [media.audio(self._value(v)) for v in args.audios]
        functions = [*agent_tools(self.shell)] if args.agent else []
        functions += self._tools(args.tools) if args.tools else ()
        functions += notebook_mcp.tools(args.mcp, prefix=args.mcp_prefix) if args.mcp else ()
        tools = toolbox(functions)
        options = {
            "thinking": args.think if args.think is not None else self.thinking,
            "thinking_budget": args.budget if args.budget is not None else self.thinking_budget,
            "temperature": args.temperature, "max_tokens": args.max_tokens, "seed": args.seed, "search": args.search,
            "json_mode": args.json, "tools": tools.specs(), "search_options": _search_options(args),
            "code_interpreter": args.code_interpreter, "size": args.size, "n": args.count,
            "negative_prompt": args.negative, "prompt_extend": args.prompt_extend, **speech_options(args.speak),
            **request_options(args, self._value)}
        how = Asking(tools or None, args.max_rounds or MAX_ROUNDS, approver(yes=args.yes), confirm_all=args.confirm,
                     max_answer_chars=self.max_answer_chars)
        return Question(prompt, args.chat or DEFAULT_CHAT, self._next_key(), self.model, model=args.model,
                        media=tuple(inputs), system=args.system or self.system, options=options,
                        files=tuple(self._value(f) for f in args.files), once=args.once, new=args.new,
                        compare=tuple(model_list(args.compare)) if args.compare else (), how=how)

    def _next_key(self) -> str:
        """The turn's key: the cell's id, numbered after the first ask of this execution (asks in a loop)."""
        execution = kernel.execution_id(self.shell)
        count = self._asks[1] if self._asks[0] == execution else 0
        self._asks = (execution, count + 1)
        key = kernel.cell_id(self.shell)
        return key if count == 0 else f"{key}#{count}"

    def _code_below(self, result: QwenResult) -> None:
        blocks = _CODE_BLOCK.findall(result.text)
        if not blocks:
            print("The answer has no code block, so no cell was added (-f code).")
            return
        self.shell.set_next_input("\n".join(b.rstrip() for b in blocks), replace=False)

    def _tools(self, text: str) -> list[Any]:
        """The functions --tools names: f,g from the namespace, or a {list} expression."""
        expression = braced_expression(text)
        if expression:
            value = evaluate(expression, self.shell.user_ns, "--tools")
            return list(value) if isinstance(value, (list, tuple)) else [value]
        names = [name.strip() for name in text.split(",") if name.strip()]
        missing = [name for name in names if name not in self.shell.user_ns]
        if missing:
            raise UsageError(f"--tools: {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not defined.")
        return [self.shell.user_ns[name] for name in names]

    def _map(self, args: MagicArgs) -> Any:
        """%%qwen --map DATA: the cell is the template over DATA's rows; the new DataFrame is the cell's value.
        With --labels or --filter, classify() or filter() (--models: a cascade)."""
        from ..data import run_choice, run_map  # pandas loads only when a table is mapped

        def named(text: str) -> Any:  # DATA or {expression}: a value from the namespace
            expression = braced_expression(text) or text
            if expression.isidentifier() and expression not in self.shell.user_ns:
                raise UsageError(f"{expression!r} is not defined; --map and --schema take a variable of the "
                                 "notebook (or an {expression}).")
            return evaluate(expression, self.shell.user_ns)

        choice = args.labels is not None or args.filter
        if args.labels is not None and args.filter:
            raise UsageError("--labels and --filter ask different things: give one.")
        if choice and args.schema:
            raise UsageError("--schema asks for JSON; --labels and --filter ask for one word: give one.")
        common = dict(concurrency=args.concurrency or 8, batch=args.batch, system=args.system or self.system,
                      think=args.think, dry_run=args.dry_run, preview_above=self.map_preview_above,
                      prices=dict(self.prices), progress=not args.quiet,
                      confirm_hint="set %config QwenMagics.map_preview_above higher (or None) to send them",
                      namespace=self.shell.user_ns, raw=args.raw or not self.interpolate,
                      **{k: v for k, v in (("temperature", args.temperature), ("max_tokens", args.max_tokens),
                                           ("seed", args.seed)) if v is not None})
        data, settings, store = named(args.map_data), self.settings(args), self.session.store
        try:
            if choice:
                out = run_choice(data, args.prompt, args.labels, settings, store, question=args.filter,
                                 model=None if args.models else args.model or self.model, models=args.models,
                                 threshold=0.9 if args.threshold is None else args.threshold,
                                 probe=args.probe,
                                 into=args.into or ("keep" if args.filter else "label"), **common)
            else:
                out = run_map(data, args.prompt, settings, store, model=args.model or self.model,
                              into=args.into or "answer", schema=named(args.schema) if args.schema else None,
                              **common)
        except QwenError as error:
            if args.out and getattr(error, "frame", None) is not None:
                self.shell.user_ns[args.out] = error.frame  # -o: the rows that have answers, as the error holds
            raise
        if args.out:
            self.shell.user_ns[args.out] = out
        return None if args.quiet else out  # -q: stored (-o), not shown

    def _value(self, text: str) -> Any:
        expression = braced_expression(text)
        return evaluate(expression, self.shell.user_ns) if expression else text
