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

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

cargo build --release -p accord -p accord-loadgen
TARGET="$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
ACCORD="$TARGET/release/accord"
LOADGEN="$TARGET/release/accord-loadgen"

TMP="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
DROP_DB=""
if [[ "${DATABASE_URL:-}" == postgres* ]]; then
  ADMIN_URL="$DATABASE_URL"
  DB="accord_bench_$$"
  psql "$ADMIN_URL" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $DB"
  DB_URL="${ADMIN_URL%/*}/$DB"
  DROP_DB="$DB"
  BACKEND=postgres
else
  DB_URL="sqlite://$TMP/accord.db"
  BACKEND=sqlite
fi

SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" || true
  fi
  if [[ -n "$DROP_DB" ]]; then
    psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DROP_DB WITH (FORCE)" || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

echo "server: $ACCORD serve on 127.0.0.1:$PORT ($BACKEND), log $OUT/server.log"
RUST_LOG="${RUST_LOG:-warn}" "$ACCORD" serve \
  --listen "127.0.0.1:$PORT" \
  --public-url "http://127.0.0.1:$PORT" \
  --database-url "$DB_URL" >"$OUT/server.log" 2>&1 &
SERVER_PID=$!

for _ in $(seq 1 300); do
  if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "server exited; see $OUT/server.log"; exit 1; fi
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null

# One chair session for every load-generator connection.
INVITE="$("$ACCORD" user add --name loadgen --role chair \
  --database-url "$DB_URL" --public-url "http://127.0.0.1:$PORT" | tail -n 1)"
export ACCORD_TOKEN="$(curl -fsS -H 'Content-Type: application/json' \
  -d "{\"invite\": \"$INVITE\"}" "http://127.0.0.1:$PORT/api/v1/session" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"

echo "== floor (${FLOOR_SECS}s) =="
"$LOADGEN" floor --typists "$TYPISTS" --watchers "$WATCHERS" --rate "$RATE" \
  --duration "${FLOOR_SECS}s" --out "$OUT/floor.json" | tee "$OUT/floor.txt"

echo "== sync ($DURATION) =="
"$LOADGEN" sync \
  --url "ws://127.0.0.1:$PORT/sync" --api "http://127.0.0.1:$PORT" \
  --typists "$TYPISTS" --watchers "$WATCHERS" --rate "$RATE" \
  --duration "$DURATION" --warmup "$WARMUP" \
  --server-pid "$SERVER_PID" --out "$OUT/sync.json" | tee "$OUT/sync.txt"

curl -fsS "http://127.0.0.1:$PORT/metrics" >"$OUT/metrics.txt" || true
kill -TERM "$SERVER_PID"
if wait "$SERVER_PID"; then echo "server stopped cleanly"; else echo "server exit status $?"; fi
SERVER_PID=""

echo
echo "== summary ($BACKEND) =="
grep -E "^overall" "$OUT/floor.txt" | sed 's/^/floor: /'
grep -E "^(overall|edits:|traffic:|server:)" "$OUT/sync.txt" | sed 's/^/sync:  /'
echo "results in $OUT"
