#!/usr/bin/env bash
# Runs the server benchmark (bench/server.sh) with the PostgreSQL store measured beside the
# embedded one, against the same hyper "hello" ceiling, in one run.
#
# The PostgreSQL store works in a schema of its own, created by the server at start and
# dropped afterwards, so the benchmark leaves nothing behind.
#
# Usage: bench/postgres.sh [postgres://USER@HOST:PORT/DATABASE]
#   default: $RUNKV_TEST_POSTGRES_URL, else the local test database
#   (postgres://postgres@127.0.0.1:5432/test). A plain libpq URL: psql uses it too.
# Environment: those of bench/server.sh, and
#   RUNKV_BENCH_PG_POOL_SIZE  connections per server (default: the store's default, 16)
set -euo pipefail

cd "$(dirname "$0")/.."
base="${1:-${RUNKV_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}}"
schema="runkv_bench_$$"

if ! command -v psql >/dev/null; then
  echo "bench/postgres.sh needs psql (Debian/Ubuntu: apt-get install postgresql-client)" >&2
  exit 1
fi
psql "$base" -qAtc 'SELECT 1' >/dev/null

url="$base"
sep='?'
[[ "$url" == *\?* ]] && sep='&'
url+="${sep}schema=$schema"
if [ -n "${RUNKV_BENCH_PG_POOL_SIZE:-}" ]; then
  url+="&pool_size=$RUNKV_BENCH_PG_POOL_SIZE"
fi

bench=""
cleanup() {
  # bench/server.sh runs in a process group of its own: whatever it leaves
  # running (servers it started in subshells) is stopped with the group.
  if [ -n "$bench" ]; then
    kill -- "-$bench" 2>/dev/null || true
  fi
  PGOPTIONS='-c client_min_messages=warning' \
    psql "$base" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

RUNKV_BENCH_PG_URL="$url" setsid bench/server.sh &
bench=$!
wait "$bench"
