"""qwen_jupyter: Alibaba Cloud Model Studio's Qwen models in Jupyter, streaming, with an offline emulator.

`%load_ext qwen_jupyter` registers the %%qwen magic; `qwen_jupyter.chat()` is the same engine from Python.
Everything past the magic's declaration loads on first use (the engine, the renderer, the HTTP client, the
emulator): `import qwen_jupyter` and `%load_ext` stay fast, and the first answer does not wait for an SDK's import.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from ._version import __version__ as __version__
from .core.errors import QwenError

if TYPE_CHECKING:
    from .api import achat, chat, compare
    from .core.result import QwenResult
    from .engine.comparison import Comparison

_LAZY = {"chat": ".api", "achat": ".api", "compare": ".api", "QwenResult": ".core.result",
         "Comparison": ".engine.comparison"}


def __getattr__(name: str) -> Any:
    """The public names that need the engine, loaded when first used (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["Comparison", "Panel", "QwenError", "QwenResult", "achat", "batch_cancel", "batch_result", "chat", "classify",
           "compare", "filter", "load_ipython_extension", "map", "session"]


def map(data: Any, template: str, **options: Any) -> Any:  # noqa: A001 - the name the public contract gives it
    """Run a prompt template over every row of a DataFrame (or list of dicts or strings); a new DataFrame with the
    answers in column `into` (default "answer"), usage and errors. Finished rows are stored: the same call again
    sends only the rows without an answer. Options: model, concurrency=8, into, schema, batch, system, dry_run,
    confirm, preview_above, prices, rpm, tpm, progress, raw, db, and chat()'s connection options."""
    from .data import map as run  # pandas loads only when a table is mapped

    return run(data, template, **options)


def classify(data: Any, template: str, labels: Any, **options: Any) -> Any:
    """One of `labels` for every row of a DataFrame (or list of dicts or strings): a new DataFrame with columns
    `{into}` (default "label"), `{into}_confidence` (the model's probability of its label, from log probabilities),
    `{into}_model` (whose answer stands) and `{into}_error`. models=[cheap, …, strong] sends the rows below
    `threshold` (0.9) on to the next model; a summary of tokens and estimated cost by model follows the run.
    Options as map()'s, and dry_run (probe=N measures the share that goes on), prices, cache (False: the shared
    instruction is not marked for the context cache; stored answers are reused either way)."""
    from .data import classify as run  # pandas loads only when a table is classified

    return run(data, template, labels, **options)


def filter(data: Any, question: str, **options: Any) -> Any:  # noqa: A001 - the name the public contract gives it
    """The rows of a DataFrame the model answers yes to, in order, index kept; keep=False returns every row with
    `{into}` (default "keep": True, False or missing), `{into}_confidence`, `{into}_model` and `{into}_error`.
    Options as classify()'s."""
    from .data import filter as run

    return run(data, question, **options)


def batch_result(job_id: str, **options: Any) -> Any:
    """The DataFrame of a batch job map(batch=True) started (by job or batch id), waiting for it to end."""
    from .data import batch_result as collect

    return collect(job_id, **options)


def batch_cancel(job_id: str, **options: Any) -> None:
    """Cancel a batch job map(batch=True) started; the rows it finished are kept."""
    from .data import batch_cancel as cancel

    cancel(job_id, **options)


def _register_accessor(*_: Any) -> None:
    """`df.qwen.map(...)` once pandas is loaded (this module never imports pandas itself)."""
    if "pandas" in sys.modules:
        from .data.accessor import register

        register()


def Panel(chat: str = "default", model: str | None = None):  # noqa: N802 - reads like the class it returns
    """A chat panel on this notebook's conversation `chat` (the same one `%%qwen -c chat` continues)."""
    from .magic.panel import Panel as make_panel  # anywidget loads only when a panel is asked for

    return make_panel(chat, model)


def session():
    """This notebook's conversations and results (`.chats`, `.results`, `.last`), as %%qwen keeps them."""
    from IPython import get_ipython

    shell = get_ipython()
    magics = shell.magics_manager.registry.get("QwenMagics") if shell else None
    if magics is None:
        raise QwenError("The extension is not loaded: run %load_ext qwen_jupyter first.", code="InvalidOption")
    return magics.session


def _display(result: Any) -> None:
    from .views.show import display_result  # the views load when a result is first shown

    display_result(result)


def _show_comparison(comparison: Any) -> None:
    from .views.compare import show_comparison

    show_comparison(comparison)


def _speech_html(speech: Any) -> str:
    from .views.media import speech_html

    return speech_html(speech)


def _frame_html(frame: Any) -> str | None:
    from .views.frame import frame_html  # the views load when a frame is first shown

    return frame_html(frame)


def _register_display(shell) -> None:
    """Let IPython stream a QwenResult that a cell displays (chat() as its last expression) and a Comparison side
    by side, play a spoken answer, and show map()'s DataFrames with their text out of reach of the page's
    typesetter. The results are plain data: their views are attached here, from outside."""
    shown = shell.display_formatter.ipython_display_formatter  # by name: the classes load with the first answer
    shown.for_type_by_name("qwen_jupyter.core.result", "QwenResult", _display)
    shown.for_type_by_name("qwen_jupyter.engine.comparison", "Comparison", _show_comparison)
    html = shell.display_formatter.formatters["text/html"]
    html.for_type_by_name("qwen_jupyter.core.speech", "Speech", _speech_html)
    # By name, so pandas is not imported; pandas 3 gives its classes the module "pandas", pandas 2 did not.
    for module in ("pandas", "pandas.core.frame"):
        html.for_type_by_name(module, "DataFrame", _frame_html)


def load_ipython_extension(ipython) -> None:
    """Register the magics, the `%qwen question?` input rule and result display with IPython."""
    from .magic import warmup
    from .magic.line_input import questions_are_prompts
    from .magic.magics import QwenMagics

    magics = QwenMagics(ipython)
    ipython.register_magics(magics)
    magics.forget_deleted_cells()  # the cell loading us carries the cells deleted before (a restart in between)
    if questions_are_prompts not in ipython.input_transformers_cleanup:
        ipython.input_transformers_cleanup.append(questions_are_prompts)
    _register_display(ipython)
    _register_accessor()
    if _register_accessor not in ipython.events.callbacks["post_run_cell"]:
        ipython.events.register("post_run_cell", _register_accessor)  # pandas imported in a later cell
    if _say_unread_failures not in ipython.events.callbacks["post_run_cell"]:
        ipython.events.register("post_run_cell", _say_unread_failures)
    warmup.start(magics)  # the SDK and renderer load while the kernel is idle, not in the first cell


def _say_unread_failures(*_: Any) -> None:
    """After a cell: one line on stderr for each answer that failed in it and that nothing read (r.text alone)."""
    result = sys.modules.get("qwen_jupyter.core.result")  # not loaded: no answer was asked for yet
    for line in result.unread_failures() if result is not None else ():
        print(line, file=sys.stderr)


def _register_if_in_ipython() -> None:
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and hasattr(shell, "display_formatter"):
        _register_display(shell)


_register_if_in_ipython()
_register_accessor()
