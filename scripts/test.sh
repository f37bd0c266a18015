#!/usr/bin/env bash
# Builds runkv and runs every test suite, then prints one summary.
#
# A failing suite does not stop the others: the summary names every suite that failed, and
# the script exits non-zero if any did. A failing build stops everything, because every
# suite after it would fail for the same reason.
set -uo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
started=$SECONDS

# PostgreSQL for the backend tests; each test run creates its own schema in it.
export RUNKV_TEST_POSTGRES_URL=${RUNKV_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}

logs=tests/artifacts/logs
mkdir -p "$logs"

names=()
outcomes=()
durations=()
counts=()
failed=0

# What a suite's own runner counted, read from the end of its log: the plain
# "N passed, M failed" line, else cargo's "test result" lines added up, else node's
# "# pass N" / "# fail M", else its last line.
counted() {
  local log=$1 line
  line=$(grep -aE '^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  if [ -n "$line" ]; then
    echo "${line#*: }"
  elif grep -aq '^test result: ' "$log"; then
    grep -a '^test result: ' "$log" | awk '
      {
        for (i = 1; i < NF; i++) {
          if ($(i + 1) ~ /^passed/) p += $i
          if ($(i + 1) ~ /^failed/) f += $i
        }
      }
      END { printf "%d passed, %d failed (cargo)\n", p, f }'
  elif grep -aq '^# pass ' "$log"; then
    printf '%s passed, %s failed\n' "$(grep -a '^# pass ' "$log" | tail -n 1 | cut -d' ' -f3)" \
      "$(grep -a '^# fail ' "$log" | tail -n 1 | cut -d' ' -f3)"
  else
    grep -a . "$log" | tail -n 1
  fi
}

run_suite() {
  local name=$1
  shift
  local log="$logs/$name.log"
  printf '\n=== %s: %s\n' "$name" "$*"
  local start=$SECONDS
  "$@" 2>&1 | tee "$log"
  if [ "${PIPESTATUS[0]}" -eq 0 ]; then
    outcomes+=(passed)
  else
    outcomes+=(FAILED)
    failed=$((failed + 1))
  fi
  names+=("$name")
  durations+=($((SECONDS - start)))
  counts+=("$(counted "$log")")
}

summary() {
  printf '\n=== summary (logs in %s/)\n' "$logs"
  local i passed_tests=0 failed_tests=0
  for i in "${!names[@]}"; do
    printf '  %-12s %-7s %5ss  %s\n' "${names[$i]}" "${outcomes[$i]}" "${durations[$i]}" \
      "${counts[$i]}"
    if [[ ${counts[$i]} =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
      passed_tests=$((passed_tests + BASH_REMATCH[1]))
      failed_tests=$((failed_tests + BASH_REMATCH[2]))
    fi
  done
  printf '  %-12s %-7s %5ss  %d passed, %d failed\n' all "" "$((SECONDS - started))" \
    "$passed_tests" "$failed_tests"
  printf 'suites: %d passed, %d failed\n' $((${#names[@]} - failed)) "$failed"
}

build() {
  printf '\n=== build\n'
  cargo build --workspace --all-targets && scripts/build-pkg.sh && node scripts/vendor-pkg.mjs
}

if ! build; then
  printf '\nThe build failed; no test suite ran.\n'
  exit 1
fi

run_suite rust cargo test --workspace
run_suite wasm scripts/test-wasm.sh
run_suite conformance node tests/conformance/run.mjs
run_suite e2e node tests/e2e/demo.test.mjs
run_suite readme node --test tests/readme.test.mjs
run_suite size node scripts/check-size.mjs
run_suite fal-compat python3 tests/fal_compat.py "$root/target/debug/runkv-server"

summary
[ "$failed" -eq 0 ]
