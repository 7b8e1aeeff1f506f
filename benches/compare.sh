#!/usr/bin/env bash
# Runs the criterion benches (quick mode by default) and the Python baseline, then
# prints Markdown tables: times and ratios against the floor, Python and the cookie
# crate, then each target as a median of interleaved paired ratios (benches/ratios.rs),
# and the bounds of the missed targets (RATIO_BOUNDS=1).
#   bash benches/compare.sh            # quick
#   BENCH_ARGS= bash benches/compare.sh  # full criterion runs
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_ARGS=${BENCH_ARGS---quick}
cargo bench --bench sessions -- $BENCH_ARGS >&2
venv=target/bench-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install -q webob==1.8.11 pyramid==2.1 >&2
fi
"$venv/bin/python" benches/python_baseline.py > target/python-baseline.json
python3 benches/report.py target/criterion target/python-baseline.json
# The targets as ratios of interleaved batches (robust to the machine's drift).
echo
echo "### Targets: interleaved paired ratios (benches/ratios.rs)"
echo
PYTHON_BASELINE="$venv/bin/python" RATIO_BOUNDS=1 cargo bench -q --bench ratios 2>/dev/null \
  | grep -E '^(\||$)'
# Instruction counts (repeatable where times are noisy), when valgrind is installed.
if [ "${INSTRUCTIONS:-1}" = 1 ] && command -v valgrind >/dev/null 2>&1; then
  echo
  echo "### Instruction counts (callgrind)"
  echo
  bash benches/instructions.sh
fi
