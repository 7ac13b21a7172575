"""`qwen-jupyter`: run the emulator, chat from a terminal, print the resolved configuration."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .api import DEFAULT_MODEL, chat
from .emulator import DEFAULT_KEY, serve, shared
from .events import ReasoningDelta, Retrying, TextDelta
from .settings import APIS, REGIONS, settings_from_env


def _chat(args: argparse.Namespace) -> int:
    options = {"model": args.model, "api": args.api, "think": args.think, "system": args.system}
    if args.offline:
        options.update(base_url=shared().url, api_key=DEFAULT_KEY)
    result = chat(args.prompt, image=args.image or None, **options)
    in_reasoning = False
    for event in result:
        match event:
            case ReasoningDelta(text=text):
                if not in_reasoning:
                    sys.stdout.write("\033[2m[reasoning] ")
                    in_reasoning = True
                sys.stdout.write(text)
            case TextDelta(text=text):
                if in_reasoning:
                    sys.stdout.write("\033[0m\n\n")
                    in_reasoning = False
                sys.stdout.write(text)
            case Retrying(delay=delay, error=error):
                sys.stderr.write(f"\n[retrying in {delay:.1f} s: {error.code}]\n")
        sys.stdout.flush()
    sys.stdout.write("\033[0m\n" if in_reasoning else "\n")
    usage = result.usage
    label = " (emulated)" if result.emulated else ""
    print(f"-- {result.model}{label}: {usage.input_tokens} in, {usage.output_tokens} out, "
          f"{result.elapsed:.2f} s", file=sys.stderr)
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
        return 1
    return 0


def _config(args: argparse.Namespace) -> int:
    settings = settings_from_env()
    print(f"api:      {settings.api}")
    print(f"host:     {settings.host}")
    print(f"key:      {'set' if settings.api_key else 'not set (DASHSCOPE_API_KEY)'}")
    return 0


def _emulator(args: argparse.Namespace) -> int:
    print(f"qwen-jupyter emulator on http://{args.host}:{args.port}  (base_url; any sk-… key works; Ctrl+C stops)")
    serve(args.host, args.port)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `qwen-jupyter` command."""
    parser = argparse.ArgumentParser(prog="qwen-jupyter", description=__doc__)
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
