#!/usr/bin/env bash
# A clean clone's `CI=true .ci/run`, as CI runs it, timed by phase.
#
#   tests/bench/clean-clone.sh <commit>
#
# Clones this repository at <commit> into a fresh temporary directory (no
# target directory, no venvs, no node_modules), runs `CI=true .ci/run` there
# with every output line stamped with the seconds since the start, and
# prints the phases (tool installs, lints, the build, each test binary, the
# demo, the Python checks) with their durations, from tests/bench/phases.py.
# The stamped log stays in the printed directory.
set -euo pipefail
commit=${1:?usage: tests/bench/clean-clone.sh <commit>}
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d "${TMPDIR:-/tmp}/sparkhub-clean-clone.XXXXXX")
git clone -q "$repo" "$work/clone"
git -C "$work/clone" checkout -q "$commit"
echo "clean clone of $(git -C "$work/clone" rev-parse --short HEAD) in $work/clone; log: $work/log" >&2
cd "$work/clone"
status=0
CI=true .ci/run 2>&1 </dev/null | python3 -u -c '
import sys, time
start = time.monotonic()
for line in sys.stdin:
    sys.stdout.write(f"{time.monotonic() - start:9.1f} {line}")
' >"$work/log" || status=$?
python3 "$repo/tests/bench/phases.py" "$work/log"
echo "exit $status; log: $work/log" >&2
exit "$status"
