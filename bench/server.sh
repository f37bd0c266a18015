#!/usr/bin/env bash
# Benchmarks runkv-server on loopback against a minimal hyper "hello" server,
# the HTTP ceiling of this machine, measured in the same run:
#
#   - GET of a 100-byte value,
#   - durable PUT of a 100-byte value (each 200 means fsynced),
#
# with wrk at 64 connections, and prints requests/s, p99 latency and the
# ratio of each to the ceiling. This is a benchmark, not a test: the numbers
# depend on the machine and on whatever else runs on it.
#
# Usage: bench/server.sh
# Environment:
#   RUNKV_BENCH_DURATION     seconds per run (default 10)
#   RUNKV_BENCH_CONNECTIONS  concurrent connections (default 64)
#   RUNKV_BENCH_THREADS      wrk threads (default 2)
#   RUNKV_BENCH_PG_URL       also measure the PostgreSQL store at this URL
set -euo pipefail

cd "$(dirname "$0")/.."
duration="${RUNKV_BENCH_DURATION:-10}"
connections="${RUNKV_BENCH_CONNECTIONS:-64}"
threads="${RUNKV_BENCH_THREADS:-2}"
token="bench-$$-$RANDOM"
export RUNKV_BENCH_TOKEN="$token"

if ! command -v wrk >/dev/null; then
  echo "bench/server.sh needs wrk (Debian/Ubuntu: apt-get install wrk)" >&2
  exit 1
fi

cargo build --quiet --release -p runkv-server --bin runkv-server --example hello
target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
server_bin="$target_dir/release/runkv-server"
hello_bin="$target_dir/release/examples/hello"

work="$(mktemp -d)"
# `start` runs in a command substitution, a subshell, so it records each
# server's PID in a file rather than in a variable the cleanup could not see.
cleanup() {
  local pidfile pid
  for pidfile in "$work"/*.pid; do
    [ -e "$pidfile" ] || continue
    pid="$(cat "$pidfile")"
    kill "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  done
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a server in the background and prints the URL from its
# "... listening on http://ADDR" line.
start() {
  local name="$1"
  shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  echo "$!" >"$work/$name.pid"
  for _ in $(seq 1 200); do
    if url="$(grep -o 'listening on http://[^ ]*' "$work/$name.out" 2>/dev/null)"; then
      echo "${url#listening on }"
      return
    fi
    sleep 0.05
  done
  echo "$name did not start:" >&2
  cat "$work/$name.err" >&2
  exit 1
}

# Runs wrk and prints "requests_per_second p99_ms".
measure() {
  local out
  out="$(wrk --latency -t"$threads" -c"$connections" -d"${duration}s" "$@")"
  local rps p99
  rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
  p99="$(awk '$1 == "99%" {
    v = $2
    if (v ~ /us$/) { sub(/us$/, "", v); v = v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v) }
    else if (v ~ /s$/) { sub(/s$/, "", v); v = v * 1000 }
    print v }' <<<"$out")"
  local errors
  errors="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")"
  if [ -n "$errors" ]; then
    echo "wrk saw $errors error responses for $*" >&2
  fi
  echo "$rps $p99"
}

value="$(printf 'v%.0s' $(seq 1 100))"
results=()

hello_url="$(start hello "$hello_bin")"
read -r ceiling_rps ceiling_p99 < <(measure "$hello_url/")
results+=("hello (ceiling)|GET|$ceiling_rps|$ceiling_p99")

bench_store() {
  local label="$1" store="$2"
  local url
  url="$(RUNKV_TOKEN="$token" start "$label" "$server_bin" --listen 127.0.0.1:0 \
    --data-dir "$work/data-$label" --store "$store")"
  curl -sf -X PUT -H "Authorization: Bearer $token" --data-binary "$value" \
    "$url/set/bench/k100" >/dev/null
  local rps p99
  read -r rps p99 < <(measure -H "Authorization: Bearer $token" "$url/get/bench/k100")
  results+=("runkv $label|GET|$rps|$p99")
  read -r rps p99 < <(measure -s bench/server_put.lua "$url")
  results+=("runkv $label|durable PUT|$rps|$p99")
}

bench_store embedded embedded
if [ -n "${RUNKV_BENCH_PG_URL:-}" ]; then
  bench_store postgres "$RUNKV_BENCH_PG_URL"
fi

echo
echo "runkv-server benchmark: ${connections} connections, ${threads} wrk threads, ${duration}s per run, $(nproc) cores"
printf '%-22s %-12s %12s %9s %10s\n' "server" "request" "req/s" "p99 ms" "x ceiling"
for row in "${results[@]}"; do
  IFS='|' read -r server request rps p99 <<<"$row"
  ratio="$(awk -v a="$rps" -v b="$ceiling_rps" 'BEGIN { printf "%.2f", a / b }')"
  printf '%-22s %-12s %12.0f %9.2f %10s\n' "$server" "$request" "$rps" "$p99" "$ratio"
done
echo
echo "Targets: GET >= 0.80x, durable PUT >= 0.50x, GET p99 <= 2 ms."
