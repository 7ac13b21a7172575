#!/usr/bin/env bash
# The packaging check, as a user gets the package: build the sdist and the wheel (the wheel from the sdist), twine
# check both, check what they hold (tests/packaging/dist_contents.py), then for the oldest and newest supported
# Pythons (3.10 and 3.13, from pyenv) install the wheel (not editable) and ipykernel into a fresh venv and run
# tests/packaging/smoke.py from outside the checkout: the version, the CLI, the panel's assets, and a real kernel
# answering a %%qwen cell offline. Each step prints its time; a failure ends with one FAIL line and exit code 1.
#
#   bash scripts/check_wheel.sh [PYTHON]    # PYTHON has build and twine (default .venv/bin/python: the test extra)
set -euo pipefail
cd "$(dirname "$0")/.."
tools=${1:-.venv/bin/python}
supported=(3.10 3.13)  # keep in step with requires-python and the classifiers in pyproject.toml

fail() { echo "check_wheel: FAIL: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.0f s", end - start }'; }
# The log's last lines, then the failure: what went wrong stays next to the one line that says so.
fail_with_log() { tail -n 15 "$1" | grep -v "is ignored: it is neither" >&2 || true; fail "$2"; }

started=$(now)
"$tools" -c "import build, twine" 2>/dev/null \
  || fail "$tools lacks build or twine (pip install -e '.[test]', or pass a Python that has them)"
pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
declare -A pythons
for minor in "${supported[@]}"; do
  found=$(find "$pyenv_root/versions" -maxdepth 1 -regex ".*/${minor//./\\.}\.[0-9]+" 2>/dev/null | sort -V | tail -n 1)
  [ -n "$found" ] && [ -x "$found/bin/python" ] \
    || fail "Python $minor is not installed under $pyenv_root/versions (pyenv install $minor); the check needs ${supported[*]}"
  pythons[$minor]=$found/bin/python
done
version=$("$tools" -c 'import runpy; print(runpy.run_path("qwen_jupyter/_version.py")["__version__"])')
work=$(mktemp -d "${TMPDIR:-/tmp}/qwen-check-wheel.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "check_wheel: qwen-jupyter $version; Pythons: ${pythons[*]}"

step=$(now)
"$tools" -m build --outdir "$work/dist" . >"$work/build.log" 2>&1 || fail_with_log "$work/build.log" "python -m build failed"
echo "  ok  python -m build: sdist and wheel ($(since "$step"))"
step=$(now)
"$tools" -m twine check --strict "$work"/dist/* >"$work/twine.log" 2>&1 || fail_with_log "$work/twine.log" "twine check failed"
echo "  ok  twine check --strict ($(since "$step"))"
"$tools" tests/packaging/dist_contents.py "$work/dist" "$version" || fail "the sdist or wheel holds the wrong files (above)"
wheel=$work/dist/qwen_jupyter-$version-py3-none-any.whl
cp tests/packaging/smoke.py "$work/smoke.py"

for minor in "${supported[@]}"; do
  step=$(now)
  venv=$work/venv-$minor
  "${pythons[$minor]}" -m venv "$venv" || fail "python $minor could not make a venv"
  "$venv/bin/python" -m pip install --no-input "$wheel" ipykernel >"$work/pip-$minor.log" 2>&1 \
    || fail_with_log "$work/pip-$minor.log" "pip could not install the wheel on Python $minor"
  echo "  ok  Python $minor: fresh venv, pip install the wheel and ipykernel ($(since "$step"))"
  step=$(now)
  (cd "$work" && env -u PYTHONPATH "$venv/bin/python" smoke.py "$version") \
    || fail "the wheel installed on Python $minor failed its smoke test (the FAIL line above)"
  echo "  ok  Python $minor: smoke test ($(since "$step"))"
done
echo "check_wheel: passed in $(since "$started")"
