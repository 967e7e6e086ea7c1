#!/usr/bin/env bash
# `make test` after a one-line change in sparkhub-core, timed by phase.
#
#   tests/bench/incremental.sh
#
# In this working tree: brings the build up to date (make build, untimed),
# adds one comment line to shared/core/src/lib.rs, runs `make test` (as a
# developer does: incremental compilation on)
# with every output line stamped (tests/bench/phases.py prints the phases),
# and takes the line out again.
set -euo pipefail
cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
make --no-print-directory build >/dev/null
file=shared/core/src/lib.rs
cp "$file" "$file.bench-orig"
trap 'mv "$file.bench-orig" "$file"' EXIT
echo "// incremental benchmark: one line changed $(date +%s)" >>"$file"
log=$(mktemp "${TMPDIR:-/tmp}/sparkhub-incremental.XXXXXX")
status=0
make test 2>&1 </dev/null | python3 -u -c '
import sys, time
start = time.monotonic()
for line in sys.stdin:
    sys.stdout.write(f"{time.monotonic() - start:9.1f} {line}")
' >"$log" || status=$?
python3 tests/bench/phases.py "$log"
echo "exit $status; log: $log" >&2
exit "$status"
