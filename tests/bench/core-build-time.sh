#!/usr/bin/env bash
# How long `cargo test -p <package>` takes from clean at a given commit: a
# fresh worktree, a fresh target directory, the registry already downloaded.
# What the core/AWS crate split buys (BENCHMARKS.md):
#   tests/bench/core-build-time.sh 96ba769 sparkhub-shared   # before the split
#   tests/bench/core-build-time.sh HEAD sparkhub-core        # after
# Prints one line: commit, package, seconds, crates compiled.
set -euo pipefail
rev=${1:?commit}
package=${2:?package}
root=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$work/tree" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git -C "$root" worktree add --detach "$work/tree" "$rev" >/dev/null 2>&1
cd "$work/tree"
export CARGO_TARGET_DIR="$work/target"
start=$(date +%s.%N)
cargo test --locked -q -p "$package" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }
end=$(date +%s.%N)
crates=$(find "$CARGO_TARGET_DIR/debug/deps" -name '*.rlib' | wc -l)
awk -v r="$(git rev-parse --short HEAD)" -v p="$package" -v s="$start" -v e="$end" -v c="$crates" 'BEGIN { printf "%s %s %.0f s %s rlibs\n", r, p, e - s, c }'
