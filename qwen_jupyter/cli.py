"""`qwen-jupyter`: run the emulator, chat from a terminal, print the resolved configuration."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence

from ._version import __version__
from .api import chat
from .core.models import DEFAULT_MODEL
from .core.settings import APIS, REGIONS
from .emulator import serve
from .engine.routing import route
from .views.terminal import TerminalView


def _chat(args: argparse.Namespace) -> int:
    options = {"model": args.model, "api": args.api, "think": args.think, "system": args.system}
    if args.offline:
        options["offline"] = "on"
    result = chat(args.prompt, image=args.image or None, **options)
    view = TerminalView()
    with contextlib.suppress(KeyboardInterrupt):  # the partial answer is kept and marked; finish() says so
        view.run(result)
    view.finish(result)
    return 1 if result.error else 0


def _config(args: argparse.Namespace) -> int:
    settings = route()
    print(f"api:      {settings.api}")
    print(f"host:     {settings.host} ({settings.route})")
    key = "set" if settings.route == "live" and settings.api_key else "not set (DASHSCOPE_API_KEY)"
    print(f"key:      {key}")
    return 0


def _emulator(args: argparse.Namespace) -> int:
    print(f"qwen-jupyter emulator on http://{args.host}:{args.port}  (base_url; any sk-… key works; Ctrl+C stops)")
    serve(args.host, args.port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `qwen-jupyter` command."""
    parser = argparse.ArgumentParser(prog="qwen-jupyter", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    emulator = commands.add_parser("emulator", help="serve the Model Studio emulator on loopback")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=8765)
    emulator.set_defaults(run=_emulator)
    talk = commands.add_parser("chat", help="ask once and stream the answer to the terminal")
    talk.add_argument("prompt")
    talk.add_argument("-m", "--model", default=DEFAULT_MODEL)
    talk.add_argument("--api", choices=APIS, default=None)
    talk.add_argument("--think", action="store_true", default=None)
    talk.add_argument("-s", "--system")
    talk.add_argument("-i", "--image", action="append")
    talk.add_argument("--offline", action="store_true", help="answer from the built-in emulator")
    talk.set_defaults(run=_chat)
    config = commands.add_parser("config", help=f"show where requests go (regions: {', '.join(REGIONS)})")
    config.set_defaults(run=_config)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    raise SystemExit(main())
