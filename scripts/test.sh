#!/usr/bin/env bash
# Builds runkv and runs every test suite, then prints one summary.
#
# A failing suite does not stop the others: the summary names every suite that failed, and
# the script exits non-zero if any did. A failing build stops everything, because every
# suite after it would fail for the same reason.
set -uo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

# PostgreSQL for the backend tests; each test run creates its own schema in it.
export RUNKV_TEST_POSTGRES_URL=${RUNKV_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}

names=()
outcomes=()
durations=()
failed=0
absent=0

run_suite() {
  local name=$1
  shift
  printf '\n=== %s: %s\n' "$name" "$*"
  local start=$SECONDS
  if "$@"; then
    outcomes+=(passed)
  else
    outcomes+=(FAILED)
    failed=$((failed + 1))
  fi
  names+=("$name")
  durations+=($((SECONDS - start)))
}

# A suite whose entry point is not in the checkout is listed as absent, not run.
run_suite_if() {
  local path=$1 name=$2
  shift 2
  if [ -e "$path" ]; then
    run_suite "$name" "$@"
  else
    names+=("$name")
    outcomes+=(absent)
    durations+=(0)
    absent=$((absent + 1))
  fi
}

summary() {
  printf '\n=== summary\n'
  local i
  for i in "${!names[@]}"; do
    printf '  %-12s %-7s %4ss\n' "${names[$i]}" "${outcomes[$i]}" "${durations[$i]}"
  done
  printf 'suites: %d passed, %d failed\n' $((${#names[@]} - failed - absent)) "$failed"
}

build() {
  printf '\n=== build\n'
  cargo build --workspace --all-targets || return 1
  if [ -e scripts/build-pkg.sh ]; then
    scripts/build-pkg.sh && node scripts/vendor-pkg.mjs
  fi
}

if ! build; then
  printf '\nThe build failed; no test suite ran.\n'
  exit 1
fi

run_suite rust cargo test --workspace
run_suite_if scripts/test-wasm.sh wasm scripts/test-wasm.sh
run_suite_if tests/conformance/run.mjs conformance node tests/conformance/run.mjs
run_suite_if tests/e2e/demo.test.mjs e2e node tests/e2e/demo.test.mjs
run_suite_if tests/readme.test.mjs readme node --test tests/readme.test.mjs
run_suite_if scripts/check-size.mjs size node scripts/check-size.mjs
run_suite_if tests/fal_compat.py fal-compat \
  python3 tests/fal_compat.py "$root/target/debug/runkv-server"

summary
[ "$failed" -eq 0 ]
