#!/usr/bin/env bash
# Instructions, not seconds: the same stream through the bare openai loop and through qwen-jupyter (backend,
# result, cell view), counted by valgrind's callgrind, so the ratio does not move with machine load.
#   bash benchmarks/instructions.sh [CHUNKS]     (needs Debian's valgrind; prints the ratio)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
CHUNKS=${1:-4000}
PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$PY -m qwen_jupyter.cli emulator --port "$PORT" >/dev/null 2>&1 &   # its own process: not counted
EMULATOR=$!
trap 'kill $EMULATOR 2>/dev/null || true' EXIT
sleep 2
OUT=$(mktemp -d)
for mode in none bare ours; do
  valgrind --tool=callgrind --callgrind-out-file="$OUT/$mode.out" "$PY" benchmarks/instructions_client.py \
    "$mode" "http://127.0.0.1:$PORT" "$CHUNKS" >"$OUT/$mode.log" 2>&1 &
done
wait $(jobs -p | grep -v "^$EMULATOR$") 2>/dev/null || true
$PY - "$OUT" "$CHUNKS" <<'PY'
import re, sys
out, chunks = sys.argv[1], sys.argv[2]
count = {m: int(re.search(r"Collected : (\d+)", open(f"{out}/{m}.log").read()).group(1)) for m in ("none", "bare", "ours")}
bare, ours = count["bare"] - count["none"], count["ours"] - count["none"]
print(f"{chunks} chunks: bare openai loop {bare:,} instructions; qwen-jupyter {ours:,}; ratio {ours / bare:.3f}")
PY
