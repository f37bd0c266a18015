#!/usr/bin/env bash
# Tests the SDK: its Rust unit tests, the wasm-bindgen tests in Node, in headless Chromium
# and in a dedicated Web Worker, and the built npm package: smoke tests in Node (ESM and
# CommonJS) and in Chromium (a page and a module worker), memory over a long run, and the
# snippets of its README. The full runtime matrix is the conformance suite's.
#
# Needs what scripts/setup.sh --test installs: wasm-bindgen-cli (its test runner),
# Chromium and chromium-driver. Builds the package first if pkg/dist/ is missing.
set -uo pipefail

cd "$(dirname "$0")/.."

failed=()
step() {
  local name=$1
  shift
  printf '\n--- %s\n' "$name"
  "$@" || failed+=("$name")
}

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
# Chromium's options (headless, no sandbox: the tests may run as root).
webdriver_json=$PWD/tests/webdriver.json
export WASM_BINDGEN_TEST_WEBDRIVER_JSON=${WASM_BINDGEN_TEST_WEBDRIVER_JSON:-$webdriver_json}
wasm_test() {
  cargo test -p runkv --target wasm32-unknown-unknown --test "$1"
}

step "unit tests" cargo test -p runkv --lib
step "wasm in node" wasm_test node
step "wasm in chromium" wasm_test browser
step "wasm in a dedicated worker" wasm_test worker

if [ ! -e pkg/dist/runkv_bg.wasm ]; then
  step "package build" scripts/build-pkg.sh
fi
step "package size" node scripts/check-size.mjs
step "package smoke (import and require)" node --test tests/pkg/smoke.mjs tests/pkg/smoke.cjs
step "package memory" node --expose-gc --test tests/pkg/memory.mjs
step "package in chromium (page and worker)" node --test tests/pkg/browser.mjs
step "package README snippets" node --test tests/pkg/readme.mjs

if [ ${#failed[@]} -gt 0 ]; then
  printf '\ntest-wasm: FAILED: %s\n' "${failed[*]}"
  exit 1
fi
printf '\ntest-wasm: all passed\n'
