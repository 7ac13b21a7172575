#!/usr/bin/env bash
# Install qwen-jupyter with its test extras into .venv and run the whole test suite, offline against the emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser tests drive Debian's chromium (never a downloaded browser); install it when we can.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
exec .venv/bin/python -m pytest "$@"
