#!/usr/bin/env bash
# Instruction counts per operation (valgrind's callgrind) and the ratio targets on them:
# repeatable where the criterion times of benches/compare.sh are noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "install the Debian package valgrind" >&2; exit 1; }
cargo bench --bench instructions --no-run >&2
bin=$(ls -t target/release/deps/instructions-* | grep -v '\.d$' | head -n 1)
python3 benches/instructions.py "$bin"
