#!/usr/bin/env bash
# Runs every fuzz target (func Fuzz... in a _test.go file) for FUZZTIME each
# (default 30s) and prints each target's executions. A failure stops with
# the failing input, which Go writes to the package's testdata/fuzz/<target>/:
# commit it with the fix, and it stays a regression test for `go test`.
#   FUZZTIME  per target (a duration, or Nx for N executions)
#   PKGS      packages to look in (default ./...)
#   FUZZ      only targets matching this regexp (default all)
#   FUZZFLAGS more go test flags, e.g. -parallel=1 (one worker per target)
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-30s}
PKGS=${PKGS:-./...}
FUZZ=${FUZZ:-.}

summary=()
for pkg in $(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}{{end}}' $PKGS); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | grep -E "$FUZZ" || true)
  for target in $targets; do
    echo "fuzz: $pkg $target for $FUZZTIME"
    log=$(mktemp)
    if ! go test "$pkg" -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" ${FUZZFLAGS:-} >"$log" 2>&1; then
      cat "$log"; rm -f "$log"
      echo "fuzz: $pkg $target FAILED (the failing input is in $dir/testdata/fuzz/$target/)" >&2
      exit 1
    fi
    # A short run on a busy machine may end before its first progress line.
    execs=$(grep -o 'execs: [0-9]*' "$log" | tail -1 | cut -d' ' -f2 || true)
    summary+=("$(printf '%-55s %-32s %12s' "$pkg" "$target" "${execs:-0}")")
    echo "fuzz: $pkg $target: ${execs:-0} executions"
    rm -f "$log"
  done
done
printf '\n%-55s %-32s %12s\n' package target executions
printf '%s\n' "${summary[@]}"
