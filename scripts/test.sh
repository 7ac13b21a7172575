#!/usr/bin/env bash
# Install qwen-jupyter with its test extras into .venv, check the package as users install it (scripts/check_wheel.sh:
# the sdist and wheel built and checked, the wheel installed into fresh Python 3.10 and 3.13 venvs and answering
# offline in a kernel), then run the whole test suite, offline against the emulator. Arguments go to pytest.
# QWEN_JUPYTER_SKIP_PACKAGING=1 leaves the packaging check out (a quicker run of some tests while working).
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser tests drive Debian's chromium (never a downloaded browser); install it when we can.
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[test]"
packaging=0
if [ "${QWEN_JUPYTER_SKIP_PACKAGING:-}" != 1 ]; then
  bash scripts/check_wheel.sh .venv/bin/python || packaging=$?
fi
tests=0
.venv/bin/python -m pytest "$@" || tests=$?
if [ "$packaging" -ne 0 ]; then
  echo "test.sh: the packaging check failed (its FAIL line is above the test run)" >&2
fi
if [ "$tests" -ne 0 ]; then
  exit "$tests"  # pytest's own code (5: no tests collected), which .ci/run reads
fi
exit "$(( packaging != 0 ))"
