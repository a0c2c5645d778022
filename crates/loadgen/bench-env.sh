# Shared by bench.sh and history-bench.sh (sourced, with OUT set): builds
# release, picks a free port and a fresh database (SQLite in a temp folder,
# or with DATABASE_URL=postgres://… a database created on that server and
# dropped afterwards), and stops the server and cleans up on exit.
# Sets ACCORD, LOADGEN, PORT, DB_URL, BACKEND; start_server ARGS... sets
# SERVER_PID once /readyz answers.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
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

start_server() {
  echo "server: $ACCORD serve on 127.0.0.1:$PORT ($BACKEND), log $OUT/server.log"
  RUST_LOG="${RUST_LOG:-warn}" "$ACCORD" serve --listen "127.0.0.1:$PORT" \
    --public-url "http://127.0.0.1:$PORT" --database-url "$DB_URL" --no-first-chair "$@" \
    >"$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then echo "server exited; see $OUT/server.log"; exit 1; fi
    sleep 0.1
  done
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null
}

# session NAME ROLE [ENTITY]: a new user's session token.
session() {
  local args=(user add --name "$1" --role "$2" --database-url "$DB_URL" --public-url "http://127.0.0.1:$PORT")
  [[ -n "${3:-}" ]] && args+=(--entity "$3")
  local invite
  invite="$("$ACCORD" "${args[@]}" | tail -n 1)"
  curl -fsS -H 'Content-Type: application/json' -d "{\"invite\": \"$invite\"}" \
    "http://127.0.0.1:$PORT/api/v1/session" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
