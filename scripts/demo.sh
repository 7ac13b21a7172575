#!/usr/bin/env bash
# Install qwen-jupyter into .venv and stream answers from the built-in emulator (no network, no key needed).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
.venv/bin/qwen-jupyter chat --offline "Who are you?"
.venv/bin/qwen-jupyter chat --offline --think "Explain the math of compound interest"
