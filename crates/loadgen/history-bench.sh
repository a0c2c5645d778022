#!/usr/bin/env bash
# The history benchmark: builds release, starts `accord serve --test-clock`
# on a fresh database, types CHANGES one-character changes into one element
# as four delegates (a version named half way, revisions split by moving the
# test clock), then times the history API against GET /api/v1/me.
#
#   crates/loadgen/history-bench.sh [CHANGES] [OUT_DIR]
#   DATABASE_URL=postgres://postgres@127.0.0.1/postgres crates/loadgen/history-bench.sh 100000 out/
set -euo pipefail

CHANGES="${1:-100000}"
OUT="${2:-bench-results/history-$(date +%Y%m%d-%H%M%S)}"
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
  DB="accord_hbench_$$"
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

RUST_LOG="${RUST_LOG:-warn}" "$ACCORD" serve --listen "127.0.0.1:$PORT" \
  --public-url "http://127.0.0.1:$PORT" --database-url "$DB_URL" \
  --test-clock --no-first-chair --max-text-chars 1000000 >"$OUT/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done

session() { # NAME ROLE [ENTITY]
  local args=(user add --name "$1" --role "$2" --database-url "$DB_URL" --public-url "http://127.0.0.1:$PORT")
  [[ -n "${3:-}" ]] && args+=(--entity "$3")
  local invite
  invite="$("$ACCORD" "${args[@]}" | tail -n 1)"
  curl -fsS -H 'Content-Type: application/json' -d "{\"invite\": \"$invite\"}" \
    "http://127.0.0.1:$PORT/api/v1/session" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
CHAIR="$(session bench-chair chair)"
TOKENS="$(session d-iom delegate IOM),$(session d-ilo delegate ILO),$(session d-who delegate WHO),$(session d-unhcr delegate UNHCR)"

echo "history benchmark ($BACKEND, $CHANGES changes)"
"$LOADGEN" history --url "ws://127.0.0.1:$PORT/sync" --api "http://127.0.0.1:$PORT" \
  --chair-token "$CHAIR" --tokens "$TOKENS" --changes "$CHANGES" --batch "${BATCH:-200}" | tee "$OUT/history.txt"
