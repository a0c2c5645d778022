#!/usr/bin/env bash
# The reference sync benchmark: builds release, starts `accord serve` on a
# fresh database on 127.0.0.1:<free port>, runs the websocket floor (60 s)
# and the sync run (default 600 s) with --server-pid, stops the server with
# SIGTERM and prints the summary.
#
#   crates/loadgen/bench.sh [DURATION] [OUT_DIR]
#   DATABASE_URL=postgres://user:pw@127.0.0.1/postgres crates/loadgen/bench.sh 600s out/
#
# Environment: TYPISTS (112), WATCHERS (100), RATE (5), WARMUP (10s),
# FLOOR_SECS (60), DATABASE_URL (default: SQLite in a temp dir; with a
# postgres:// URL a fresh database accord_bench_<pid> is created on that
# server and dropped afterwards; needs psql).
set -euo pipefail

DURATION="${1:-600s}"
OUT="${2:-bench-results/$(date +%Y%m%d-%H%M%S)}"
TYPISTS="${TYPISTS:-112}"
WATCHERS="${WATCHERS:-100}"
RATE="${RATE:-5}"
WARMUP="${WARMUP:-10s}"
FLOOR_SECS="${FLOOR_SECS:-60}"

source "$(dirname "$0")/bench-env.sh"
# /metrics answers only with a token (the server reads it from the environment).
export ACCORD_METRICS_TOKEN="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
start_server
# One chair session for every load-generator connection.
export ACCORD_TOKEN="$(session loadgen chair)"

echo "== floor (${FLOOR_SECS}s) =="
"$LOADGEN" floor --typists "$TYPISTS" --watchers "$WATCHERS" --rate "$RATE" \
  --duration "${FLOOR_SECS}s" --out "$OUT/floor.json" | tee "$OUT/floor.txt"

echo "== sync ($DURATION) =="
"$LOADGEN" sync \
  --url "ws://127.0.0.1:$PORT/sync" --api "http://127.0.0.1:$PORT" \
  --typists "$TYPISTS" --watchers "$WATCHERS" --rate "$RATE" \
  --duration "$DURATION" --warmup "$WARMUP" \
  --server-pid "$SERVER_PID" --out "$OUT/sync.json" | tee "$OUT/sync.txt"

curl -fsS -H "Authorization: Bearer $ACCORD_METRICS_TOKEN" \
  "http://127.0.0.1:$PORT/metrics" >"$OUT/metrics.txt" || true
kill -TERM "$SERVER_PID"
if wait "$SERVER_PID"; then echo "server stopped cleanly"; else echo "server exit status $?"; fi
SERVER_PID=""

echo
echo "== summary ($BACKEND) =="
grep -E "^overall" "$OUT/floor.txt" | sed 's/^/floor: /'
grep -E "^(overall|edits:|traffic:|server:)" "$OUT/sync.txt" | sed 's/^/sync:  /'
echo "results in $OUT"
