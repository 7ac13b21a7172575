"""Execute notebooks offline against the built-in emulator; write the executed copies and HTML exports.

    python scripts/run_notebook.py notebooks/quickstart.ipynb --out out/      # the main job
    python scripts/run_notebook.py notebooks/*.ipynb --inplace                # refresh the committed outputs
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


def execute(path: Path, database: str) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel, offline, with an empty conversation store."""
    os.environ["QWEN_JUPYTER_OFFLINE"] = "on"  # never the network, even where a key is set
    os.environ["QWEN_JUPYTER_DB"] = database
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
    args = parser.parse_args(argv)
    for path in args.notebooks:
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
