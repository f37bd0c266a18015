#!/usr/bin/env bash
# Installs what building and testing runkv needs and is missing, and nothing else.
#
# Every step checks first, so a second run installs nothing and takes about a second.
# Versions are pinned: wasm-bindgen-cli to the `wasm-bindgen` crate in Cargo.lock (the CLI
# and the crate must match exactly, or the generated glue does not load), npm packages by
# the committed package-lock.json, system packages by the Debian release.
#
# Usage: scripts/setup.sh [--test] [--check]
#   --test   also install what only the tests and benchmarks need: Chromium, chromium-driver,
#            wrk, and curl, openssl and psql if missing (`make demo` needs none of them).
#   --check  install nothing: list what is missing, and fail if anything is.
set -euo pipefail

cd "$(dirname "$0")/.."

want_test_tools=false
check_only=false
for arg in "$@"; do
  case "$arg" in
    --test) want_test_tools=true ;;
    --check) check_only=true ;;
    *) echo "setup: unknown argument $arg" >&2; exit 2 ;;
  esac
done

say() { printf 'setup: %s\n' "$*"; }

# Says what is about to be installed (with --check: what would be).
announce() {
  if $check_only; then say "would install $*"; else say "installing $*"; fi
}

# Runs an install step, or with --check only records that it would have run.
missing_steps=0
install() {
  if $check_only; then
    missing_steps=$((missing_steps + 1))
  else
    "$@"
  fi
}

# Run as root directly; otherwise through sudo (apt needs it).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The Rust target the SDK compiles to.
if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "wasm32-unknown-unknown target present"
else
  announce "the wasm32-unknown-unknown target"
  install rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli, at exactly the version of the crate in Cargo.lock.
bindgen_version=$(awk '
  $0 == "name = \"wasm-bindgen\"" { found = 1; next }
  found && /^version = / { gsub(/"/, "", $3); print $3; exit }
' Cargo.lock)
bindgen_version=${bindgen_version:-0.2.130}
installed=$(wasm-bindgen --version 2>/dev/null | awk '{ print $2 }' || true)
if [ "$installed" = "$bindgen_version" ]; then
  say "wasm-bindgen-cli $bindgen_version present"
else
  announce "wasm-bindgen-cli $bindgen_version (found: ${installed:-none})"
  # Not --locked: the CLI's own lock file pins a webpki-roots release that the registry no
  # longer offers, so that build fails. The CLI version, the part that must match, is pinned.
  install cargo install wasm-bindgen-cli --version "$bindgen_version"
fi

# npm packages from the lock file. `npm ci` wipes node_modules, so run it only when the
# lock file changed since the last install; the stamp holds the lock file's hash.
stamp=node_modules/.runkv-lock-sha256
lock_hash=$(sha256sum package-lock.json | awk '{ print $1 }')
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_hash" ]; then
  say "node_modules matches package-lock.json"
else
  announce "npm packages (npm ci)"
  install npm ci --no-audit --no-fund
  $check_only || printf '%s\n' "$lock_hash" >"$stamp"
fi

# Debian packages: a browser for the browser tests, wrk for the benchmarks, and the
# command-line tools the README's snippets use (its test runs them).
missing=()
if $want_test_tools; then
  command -v wrk >/dev/null || missing+=(wrk)
  command -v curl >/dev/null || missing+=(curl)
  command -v openssl >/dev/null || missing+=(openssl)
  command -v psql >/dev/null || missing+=(postgresql-client)
  # Without recommends chromium comes without fonts-liberation, which pages use for their
  # default sans-serif: screenshots would fall back to whatever font happens to exist.
  command -v chromium >/dev/null || missing+=(chromium fonts-liberation)
  command -v chromedriver >/dev/null || missing+=(chromium-driver)
fi
if [ ${#missing[@]} -eq 0 ]; then
  say "system packages present"
else
  announce "${missing[*]} with apt"
  export DEBIAN_FRONTEND=noninteractive
  apt_install() {
    # A fresh machine has empty package lists; one update is enough for this run.
    if ! as_root apt-get install -y --no-install-recommends "$@"; then
      as_root apt-get update
      as_root apt-get install -y --no-install-recommends "$@"
    fi
  }
  install apt_install "${missing[@]}"
fi

if $check_only && [ "$missing_steps" -gt 0 ]; then
  say "--check: $missing_steps of the steps above would install something"
  exit 1
fi
