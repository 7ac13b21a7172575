"""Execute notebooks offline against the built-in emulator; write the executed copies and HTML exports.

    python scripts/run_notebook.py notebooks/quickstart.ipynb --out out/      # the main job
    python scripts/run_notebook.py notebooks/*.ipynb --inplace                # refresh the committed outputs
    python scripts/run_notebook.py notebooks/*.ipynb --inplace --record       # re-record their cassettes too

A notebook that says `%qwen cassette cassettes/NAME.jsonl` replays its answers from that file when offline. With
--record the cassette is written anew: from Model Studio when DASHSCOPE_API_KEY is set (use --live), otherwise
from the emulator.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter


def execute(path: Path, database: str, record: bool = False, live: bool = False) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel with an empty conversation store: offline unless live."""
    os.environ["QWEN_JUPYTER_OFFLINE"] = "auto" if live else "on"  # offline never reaches the network
    os.environ["QWEN_JUPYTER_DB"] = database
    if record:
        os.environ["QWEN_JUPYTER_CASSETTE_MODE"] = "record"
        cassette = path.parent / "cassettes" / (path.stem + ".jsonl")
        cassette.unlink(missing_ok=True)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+", type=Path)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--out", type=Path, help="folder for the executed notebooks and their HTML exports")
    target.add_argument("--inplace", action="store_true", help="write the outputs back into the notebooks")
    parser.add_argument("--record", action="store_true", help="record each notebook's cassette anew")
    parser.add_argument("--live", action="store_true", help="with --record: from Model Studio (needs the key)")
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if args.record:  # record, then run again from the new cassette: the outputs are what a replay shows
            with tempfile.TemporaryDirectory() as scratch:
                execute(path, os.path.join(scratch, "qwen.db"), record=True, live=args.live)
            os.environ.pop("QWEN_JUPYTER_CASSETTE_MODE")
        with tempfile.TemporaryDirectory() as scratch:
            notebook = execute(path, os.path.join(scratch, "qwen.db"))
        if args.inplace:
            nbformat.write(notebook, path)
            print(f"refreshed {path}")
            continue
        args.out.mkdir(parents=True, exist_ok=True)
        executed = args.out / path.name
        nbformat.write(notebook, executed)
        html, _ = HTMLExporter().from_notebook_node(notebook)
        page = executed.with_suffix(".html")
        page.write_text(html, encoding="utf-8")
        print(f"executed {path} -> {executed.resolve()}\n         HTML -> {page.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
