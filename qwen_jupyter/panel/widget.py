"""QwenPanel, the widget: its synced traits (one thread at a time), what the front end's messages do, the static
output, and the Python API (ask, retry, stop, wait, new_conversation), which the front end's buttons use too. The
streaming runs in panel/worker.py; the rendering is panel/render.py's."""

from __future__ import annotations

import base64
import contextlib
import pathlib
import threading
import uuid
import weakref
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import anywidget
import traitlets

from ..core.errors import QwenError
from ..core.media import Media, image
from ..core.models import model_info
from ..core.options import LANGUAGES, check_compared, translation_alone
from ..core.result import QwenResult
from ..core.settings import Settings
from ..core.speech import speech_options
from ..core.tools import notebook_functions, toolbox
from ..engine.agent import tools as agent_tools
from ..engine.approval import Approval
from ..engine.asking import Asking
from ..engine.comparison import Comparison, model_list
from ..engine.documents import FORMATS, Document, document_name, upload_documents
from ..engine.question import Question, ask_question
from ..state.conversation import Turn
from ..state.session import DEFAULT_CHAT, Session
from ..views.cell import thumbnails
from .render import front_end, katex_assets, rendered_turn, transcript_html
from .subshell import route_to_subshell
from .worker import Worker

MODELS = ["qwen-plus", "qwen-flash", "qwen3-max", "qwen3.5-plus", "qwen-vl-max", "qvq-max", "qwen-image-plus",
          "wanx2.1-t2i-turbo", "qwen-image-edit", "qwen3-omni-flash"]
OPTIONS = ("model", "thinking", "budget", "search", "tools", "agent", "speak", "probabilities", "translate_to",
           "compare_with")  # what a panel remembers per chat
MCP = "mcp:"  # the tools picker's entry of an MCP server (a function's name cannot hold a colon)
PANEL_ALTERNATIVES = 3  # a token's alternatives shown on hover when probabilities are on
# ipywidgets keeps one "holding sync" flag and one set of pending states per widget for every thread, and the
# panel's traits change on three: the worker (the answer), the subshell (the front end's updates, Send) and the
# main thread (cells). Crossing, they lose updates (seen: a draft update from the front end during an answer
# took that answer's finished turn with it). One lock keeps each thread's changes whole.
_SYNC = threading.RLock()


class QwenPanel(anywidget.AnyWidget):
    """A chat UI: transcript, input, model picker, thinking, images, search, stop, new conversation."""

    _esm = front_end()
    _css = pathlib.Path(__file__).parent / "panel.css"

    chat = traitlets.Unicode(DEFAULT_CHAT).tag(sync=True)
    model = traitlets.Unicode("qwen-plus").tag(sync=True)
    models = traitlets.List(traitlets.Unicode(), MODELS).tag(sync=True)
    thinking = traitlets.Bool(False).tag(sync=True)
    budget = traitlets.Int(0).tag(sync=True)  # 0: the model's default
    search = traitlets.Bool(False).tag(sync=True)
    speak = traitlets.Bool(False).tag(sync=True)  # Omni models: the answer spoken too (a player in the turn)
    probabilities = traitlets.Bool(False).tag(sync=True)  # answers shaded token by token, alternatives on hover
    tools = traitlets.List(traitlets.Unicode()).tag(sync=True)  # the functions offered to the model, by name
    tool_names = traitlets.List(traitlets.Unicode()).tag(sync=True)  # the notebook's functions, for the picker
    agent = traitlets.Bool(False).tag(sync=True)  # the notebook agent: its runs wait for a yes on the panel's buttons
    # a language: the question is translated by Qwen-MT ("" or None: off)
    translate_to = traitlets.Unicode("", allow_none=True).tag(sync=True)
    languages = traitlets.List(traitlets.Unicode(), list(LANGUAGES)).tag(sync=True)  # for the Translate picker
    document_types = traitlets.List(traitlets.Unicode(), sorted(FORMATS)).tag(sync=True)  # what Attach offers
    compare_with = traitlets.List(traitlets.Unicode()).tag(sync=True)  # other models answering beside `model`
    turns = traitlets.List(traitlets.Dict()).tag(sync=True)  # finished turns, rendered
    live = traitlets.Dict().tag(sync=True)  # the turn in progress: sealed HTML and tails, refreshed now and then
    busy = traitlets.Bool(False).tag(sync=True)
    total_tokens = traitlets.Int(0).tag(sync=True)
    draft = traitlets.Unicode("").tag(sync=True)  # the input box, so a re-rendered view keeps what was typed
    widget_id = traitlets.Unicode("").tag(sync=True)  # the view finds its own output (and cell) by it

    def __init__(self, session: Session, settings: Any, *, chat: str = DEFAULT_CHAT, model: str | None = None,
                 default_model: str | None = None, on_result: Any = None,
                 namespace: dict[str, Any] | None = None, kernel: Any = None, **kwargs: Any) -> None:
        saved = _remembered(session).get(chat, {})
        if model and model != saved.get("model"):
            saved = {}  # another model asked for by name: its own defaults
        chosen = model or saved.get("model") or default_model
        super().__init__(chat=chat, **({"model": chosen} if chosen else {}), **kwargs)
        self.widget_id = self.model_id
        self.session = session
        self._settings = settings  # a callable returning Settings (the magic's, so %config applies)
        self._on_result = on_result  # the magic binds _qwen
        self._namespace = namespace if namespace is not None else {}  # where the tools picker finds functions
        # what the agent works on: the kernel (its namespace, compiler and display), or just the namespace
        self._kernel = kernel if kernel is not None else SimpleNamespace(user_ns=self._namespace, user_ns_hidden={})
        self._approvals: dict[str, list[Any]] = {}  # id -> [answered (threading.Event), the answer]
        self.last: QwenResult | Comparison | None = None
        self._stop = threading.Event()
        self._read_with: str | None = None  # the picker's model when the last ask was about documents
        self._thread: threading.Thread | None = None
        self._handle: Any = None
        self._sequence = 0
        self._shown: dict[str, dict[str, Any]] = {}  # per turn made here: thumbnails, documents, footer, error
        self._attached: dict[str, tuple[tuple[str, str], ...]] = {}  # turn key -> its documents (name, file id)
        self._pictures: dict[str, tuple[Media, ...]] = {}  # turn key -> its pictures (Retry of an ask not in the chat)
        self._unsent: dict[str, tuple[Document, ...]] = {}  # a refused ask's documents, for its Retry
        # turn key -> (the turn, rendered): the turn itself is kept and compared, as an id() is reused once a
        # replaced turn is gone (an edited question then showed its old rendering)
        self._rendered: dict[str, tuple[Turn, dict[str, Any]]] = {}
        if "thinking" not in kwargs:
            self.thinking = model_info(self.model).thinking_default
        for name in OPTIONS[1:]:
            if name in saved:
                setattr(self, name, saved[name])
        self.observe(self._remember, names=list(OPTIONS))
        self.on_msg(self._on_message)
        self.tool_names = notebook_functions(self._namespace)
        self.concurrent = route_to_subshell(self)  # Send and Stop act while a cell runs (ipykernel 7 subshells)
        session.listeners.append(self._on_chat_change)  # turns from %%qwen -c NAME cells show here too
        self._load_turns()

    def notify_change(self, change: Any) -> None:
        """Send a changed trait to the front end (one thread at a time, see _SYNC)."""
        with _SYNC:
            super().notify_change(change)

    def _notify_trait(self, name: str, old_value: Any, new_value: Any) -> None:
        # While set_state applies the front end's update, traitlets swaps this widget's notify_change for a
        # cache (for every thread): a change from another thread then went into that cache, merged or, once the
        # cache was replayed, dropped. Taken under _SYNC, a change waits for set_state to end.
        with _SYNC:
            super()._notify_trait(name, old_value, new_value)

    def set_state(self, sync_data: dict[str, Any]) -> None:
        """Apply the front end's update (one thread at a time, see _SYNC)."""
        with _SYNC:
            super().set_state(sync_data)

    @contextlib.contextmanager
    def hold_sync(self) -> Iterator[None]:
        """Send the traits changed inside as one message (one thread at a time, see _SYNC)."""
        with _SYNC, super().hold_sync():
            yield

    @traitlets.observe("translate_to")
    def _no_translation(self, change: Any) -> None:
        if change["new"] is None:  # None reads as "off", as the picker's None does (traitlets skips validators)
            self.translate_to = ""

    @traitlets.observe("model")
    def _model_changed(self, change: Any) -> None:
        self.thinking = model_info(change["new"]).thinking_default  # the box shows what the model will do

    def _remember(self, change: Any) -> None:
        _remembered(self.session)[self.chat] = {name: getattr(self, name) for name in OPTIONS}

    def _on_chat_change(self, chat: str) -> None:
        thread = getattr(self, "_thread", None)
        if thread is not None and threading.get_ident() == thread.ident:
            return  # this panel's own turn being recorded: _finish shows it
        if chat == self.chat:
            self._load_turns()  # the widget shows it now; the static transcript follows at this panel's next turn

    # -- display -------------------------------------------------------------------------------------------------

    def _bundle(self) -> dict[str, Any]:
        return {
            "application/vnd.jupyter.widget-view+json": {"version_major": 2, "version_minor": 0,
                                                         "model_id": self.model_id},
            "text/html": self.transcript(),
            "text/markdown": self.transcript(),
            "text/plain": f"QwenPanel(chat={self.chat!r}, turns={len(self.turns)})",
        }

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        return self._bundle()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        self._handle = display(self._bundle(), raw=True, display_id=True)

    def transcript(self) -> str:
        """The conversation as sanitized HTML on one line (the static fallback of the panel's output)."""
        return transcript_html(self.chat, self.turns)

    def _load_turns(self) -> None:
        conversation = self.session.chats.get(self.chat)
        turns = conversation.turns if conversation else []
        rendered = []
        for turn in turns:
            kept, cached = self._rendered.get(turn.key, (None, {}))
            if kept is not turn:
                cached = rendered_turn(turn)
                self._rendered[turn.key] = (turn, cached)
            rendered.append({**cached, **self._shown.get(turn.key, {})})
        # Asks that left no turn in the chat (refused, or failed here) stay where they happened.
        for entry in sorted((e for e in self._shown.values() if "after" in e), key=lambda e: e["after"]):
            rendered.insert(min(entry["after"] + sum(1 for r in rendered if "after" in r), len(rendered)), entry)
        if rendered and rendered[-1]["id"].startswith(("panel:", "failed:")):
            rendered[-1] = {**rendered[-1], "retry": True}  # the last question, asked here: Retry and Edit
        self.turns = rendered
        self.total_tokens = conversation.tokens() if conversation else 0

    # -- messages from the front end -----------------------------------------------------------------------------

    def _on_message(self, widget: Any, content: dict[str, Any], buffers: list[bytes]) -> None:
        kind = content.get("type")
        if kind in ("send", "retry"):
            pictures: list[Media] = []
            documents: list[tuple[str, bytes]] = []
            try:
                pictures, documents = _attachments(content)
                if kind == "send":
                    self.ask(content.get("text", ""), images=pictures, documents=documents)
                else:
                    self.retry(content.get("text"), images=pictures, documents=documents)
            except QwenError as error:  # shown in the panel, where the person pressed Send
                self._refused(kind == "retry", content.get("text"), pictures, documents, error)
        elif kind == "tools":  # the picker opened: the functions defined since
            from ..engine import notebook_mcp

            self.tool_names = notebook_functions(self._namespace) + [MCP + n for n in notebook_mcp.configured_names()]
        elif kind == "katex":
            self.send({"type": "katex", **katex_assets()})
        elif kind == "approval":  # the Run / Don't run buttons of a call waiting in the live turn
            waiting = self._approvals.get(str(content.get("id")))
            if waiting is not None:
                waiting[1] = content.get("approved") is True
                waiting[0].set()
        elif kind == "stop":
            self.stop()
        elif kind == "new":
            self.new_conversation()

    def _refused(self, retried: bool, text: str | None, pictures: list[Media],
                 documents: list[tuple[str, bytes]], error: QwenError) -> None:
        """Show a refused question where it was asked, with its pictures and documents, which Retry sends again."""
        if retried and self.turns:  # the last question, as it was: in the place of an ask that left no turn
            last = self.turns[-1]["id"]
            text = self.turns[-1].get("user", "") if text is None else text
            pictures = [*self._pictures.get(last, ()), *pictures]
            documents = [*self._unsent.get(last, ()), *documents]
            conversation = self.session.chats.get(self.chat)
            if conversation is None or conversation.position(last) is None:
                self._shown.pop(last, None)
        key = "failed:" + uuid.uuid4().hex
        self._shown[key] = {"images": thumbnails(tuple(pictures)), "documents": [name for name, _ in documents]}
        self._keep_failed(key, text or "", error.summary())
        self._pictures, self._unsent = {key: tuple(pictures)}, {key: tuple(documents)}
        self._load_turns()

    # -- the Python API (the front end uses the same) -------------------------------------------------------------

    def ask(self, text: str, images: list[Any] = (), documents: list[Document] = ()) -> QwenResult | Comparison:
        """Ask in this panel's chat (documents, paths or (name, bytes), go to qwen-long); the answer streams into
        the panel from a worker thread. With `compare_with` set, the result is a Comparison."""
        self._ready(text, images, documents)  # before anything is uploaded
        return self._ask(text, [image(item) for item in images], self._upload(text, documents),
                         "panel:" + uuid.uuid4().hex)

    def retry(self, text: str | None = None, images: list[Any] = (),
              documents: list[Document] = ()) -> QwenResult | Comparison:
        """Ask the last question again (or `text` in its place, with its images and documents and any new ones):
        a new answer."""
        last = self.turns[-1] if self.turns else {}
        if not last.get("retry"):
            raise QwenError("Nothing to retry: the panel's last turn is not a question asked in it.",
                            code="InvalidInput", hint="")
        conversation = self.session.chats.get(self.chat)
        position = conversation.position(last["id"]) if conversation else None
        media = list(conversation.turns[position].user.media if conversation and position is not None
                     else self._pictures.get(last["id"], ()))
        key = last["id"] if position is not None else "panel:" + uuid.uuid4().hex
        text = last["user"] if text is None else text
        attached = self._attached.get(last["id"], ())
        documents = [*self._unsent.get(last["id"], ()), *documents]  # a refused ask's documents, never uploaded
        self._ready(text, media + list(images), [*attached, *documents])
        if position is None:  # an ask that left no turn (a comparison, a failure): asked again in its place
            self._shown.pop(last["id"], None)
            self._load_turns()
        documents_now = attached + self._upload(text, documents)
        return self._ask(text, media + [image(item) for item in images], documents_now, key)

    def _ready(self, text: str, media: Sequence[Any], documents: Sequence[Any]) -> None:
        """Refuse an ask this panel cannot take now, before anything is uploaded or sent."""
        if self.busy:
            raise QwenError("The panel is still answering; wait for it (panel.wait()) or stop it (panel.stop()).",
                            code="InvalidInput", hint="")
        if not (text.strip() or media):
            raise QwenError("Nothing to ask: write a question (about the documents) or attach an image.",
                            code="InvalidInput", hint="")
        translation_alone(self.translate_to, documents)
        if self.translate_to and self._compared():
            raise QwenError("Translate or compare, not both: set Translate to None, or clear Compare.",
                            code="InvalidInput", hint="")
        if self._compared():  # two to six different models, each able to read the documents, before any upload
            check_compared(model_list([self.model, *self._compared()]), {}, bool(documents))

    def _compared(self) -> list[str]:
        """The other models that answer beside the chosen one."""
        return [name for name in self.compare_with if name != self.model]

    def _upload(self, text: str, documents: list[Document]) -> tuple[tuple[str, str], ...]:
        """(name, file id) of each document, uploaded through the cache %%qwen --file uses (checked first)."""
        if not documents:
            return ()
        names = [document_name(d) for d in documents]
        # Uploading and parsing can take a while: the panel says so, and Send waits, meanwhile.
        with self.hold_sync():
            self.busy = True
            self.live = {"id": "uploading", "user": text, "documents": names, "status": "streaming",
                         "answer_html": "", "answer_tail": f"Uploading {', '.join(names)} for qwen-long…",
                         "reasoning_html": "", "reasoning_tail": ""}
        try:
            ids = upload_documents(documents, self._settings())
        finally:
            with self.hold_sync():
                self.live = {}
                self.busy = False
        return tuple(zip(names, ids, strict=True))

    def _ask(self, text: str, media: list[Media], documents: tuple[tuple[str, str], ...],
             key: str) -> QwenResult | Comparison:
        self._ready(text, media, documents)  # again, after an upload: another thread may have asked meanwhile
        functions = [self._namespace[name] for name in self.tools if callable(self._namespace.get(name))]
        servers = [name.removeprefix(MCP) for name in self.tools if name.startswith(MCP)]
        if servers:
            from ..engine import notebook_mcp  # the MCP client loads with the first server

            functions += notebook_mcp.tools(servers)
        tools = toolbox([*(agent_tools(self._kernel) if self.agent else ()), *functions])
        settings: Settings = self._settings()  # routed (live, emulator, cassette) as the magic routes
        # The engine decides the rest, as for a %%qwen cell; a model picked since the documents were asked about
        # counts as named.
        others = self._compared()
        question = Question(text, self.chat, key, self.model, media=tuple(media),
                            model=self.model if self._read_with != self.model else None,
                            options=self._options(tools, self.model), file_ids=tuple(i for _, i in documents),
                            compare=(self.model, *others) if others else (),
                            how=Asking(tools or None, approve=self._approve))
        answer = ask_question(question, self.session, settings)
        answered = answer.model if isinstance(answer, QwenResult) else self.model
        self._read_with = self.model if documents or answered != self.model else None
        self.last = answer
        if self._on_result:
            self._on_result(answer)
        self.busy = True
        self.draft = ""
        self._stop.clear()
        turn_id = key
        names = [name for name, _ in documents]
        self._attached[key] = documents
        self._pictures = {key: tuple(media)}  # only the last ask can be retried: nothing older is held
        self._shown[key] = {"images": thumbnails(tuple(media)), "documents": names}
        live: dict[str, Any] = {"id": turn_id, "user": text, **self._shown[key], "status": "streaming"}
        if isinstance(answer, Comparison):
            live["columns"] = [{"model": name, "answer_html": "", "answer_tail": ""} for name in answer.models]
        else:
            live |= {"answer_html": "", "answer_tail": "", "reasoning_html": "", "reasoning_tail": ""}
        self.live = live
        self._thread = threading.Thread(target=Worker(self).run, args=(answer, turn_id, text, key), daemon=True)
        self._thread.start()
        if isinstance(answer, QwenResult):
            answer.claim(self._thread.ident)  # displayed or read from a cell now, it is the worker's: no second reader
        return answer

    def _options(self, tools: Any, model: str) -> dict[str, Any]:
        """build_request's options from the controls, for the model that will answer."""
        if self.translate_to:  # Qwen-MT takes the text alone: no history, system prompt, tools or thinking
            return {"to": self.translate_to}
        info = model_info(model)
        # The box starts at the model's default; only a change from it is sent (so unchecking really turns off a
        # model that thinks by default, and an untouched box asks exactly what a %%qwen cell asks).
        thinking = self.thinking if info.hybrid and self.thinking != info.thinking_default else None
        return {"thinking": thinking, "thinking_budget": self.budget or None, "search": self.search,
                "tools": tools.specs(), "logprobs": PANEL_ALTERNATIVES if self.probabilities else None,
                **speech_options(True if self.speak and "omni" in model else None)}

    def _approve(self, approval: Approval) -> bool:
        """Ask on the panel's own buttons (from the worker thread) whether a call may run; the live turn shows
        exactly what will run until the person answers. Stop, or a panel nobody answers, runs nothing."""
        asked = uuid.uuid4().hex
        answered = threading.Event()
        self._approvals[asked] = [answered, False]
        self.live = {**self.live, "approval": {"id": asked, "name": approval.name, "shown": approval.shown,
                                               "code": bool(approval.tool.code)}}
        try:
            while not answered.wait(0.2):
                if self._stop.is_set():
                    return False
            return self._approvals[asked][1]
        finally:
            self._approvals.pop(asked, None)
            self.live = {k: v for k, v in self.live.items() if k != "approval"}

    def stop(self) -> None:
        """Stop the answer that is streaming (it is kept, marked interrupted); a call waiting for approval does
        not run."""
        self._stop.set()
        if isinstance(self.last, QwenResult) and self.last.streaming:
            self.last.stop()  # at once, even if its stream has stalled (a comparison's worker stops its own)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the current answer has finished streaming."""
        if self._thread:
            self._thread.join(timeout)

    def new_conversation(self) -> None:
        """Empty this panel's chat (the same chat %%qwen -c NAME uses)."""
        self.session.reset(self.chat)
        self._load_turns()
        self._update_display()

    def _keep_failed(self, key: str, user: str, error: str, answer_html: str = "", footer: str = "",
                     partial: str = "") -> None:
        """Show an ask that left no turn in the chat, in its place among the turns."""
        conversation = self.session.chats.get(self.chat)
        attached = {k: v for k, v in self._shown.get(key, {}).items() if k in ("images", "documents")}
        self._shown[key] = {**attached, "id": key, "user": user, "answer_html": answer_html, "answer_md": partial,
                            "reasoning_html": "",
                            "status": "error", "error": error, "footer": footer,
                            "after": len(conversation.turns) if conversation else 0}

    def _update_display(self) -> None:
        if self._handle is not None:
            self._handle.update(self._bundle(), raw=True)


def _attachments(content: dict[str, Any]) -> tuple[list[Media], list[tuple[str, bytes]]]:
    """The pictures (data URLs) and documents (name, base64) of a send from the front end; one that cannot be read
    is a one-line error in the panel, not an exception in the comm handler."""
    try:
        pictures = [image(base64.b64decode(item.split(",", 1)[1], validate=True))
                    for item in content.get("images") or ()]
        documents = [(str(item["name"]), base64.b64decode(item["data"], validate=True))
                     for item in content.get("documents") or ()]
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise QwenError(f"An attachment could not be read ({type(exc).__name__}); attach it again.",
                        code="InvalidInput", hint="") from None
    return pictures, documents


_options: weakref.WeakKeyDictionary[Session, dict[str, dict[str, Any]]] = weakref.WeakKeyDictionary()


def _remembered(session: Session) -> dict[str, dict[str, Any]]:
    """The model and options last chosen in a panel, per chat of this session."""
    return _options.setdefault(session, {})
