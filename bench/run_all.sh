#!/usr/bin/env bash
# Runs every benchmark in bench/ in turn; each prints its own baseline and ratio.
# `bash bench/run_all.sh --quick` passes --quick to those that take it (smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
export PYTHONPATH="$PWD/lambda:$PWD/local${PYTHONPATH:+:$PYTHONPATH}"
quick=()
[ "${1:-}" = "--quick" ] && quick=(--quick)
status=0
for bench in bench/bench_*.py; do
  echo "=== $bench"
  args=()
  if grep -q -- '"--quick"' "$bench"; then args=("${quick[@]}"); fi
  if ! "$PY" "$bench" "${args[@]}"; then
    echo "!!! $bench failed"
    status=1
  fi
  echo
done
exit $status
