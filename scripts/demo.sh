#!/usr/bin/env bash
# The main job: install qwen-jupyter into .venv and execute the quickstart notebook offline against the built-in
# emulator (no network, no key), leaving the executed notebook and an HTML export in out/.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[notebooks]"
.venv/bin/python scripts/run_notebook.py notebooks/quickstart.ipynb --out out
echo "Open out/quickstart.html in a browser, or out/quickstart.ipynb in JupyterLab."
