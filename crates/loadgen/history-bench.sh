#!/usr/bin/env bash
# The history benchmark: builds release, starts `accord serve --test-clock`
# on a fresh database, types CHANGES one-character changes into one element
# as four delegates (a version named half way, revisions split by moving the
# test clock), then times the history API against GET /api/v1/me, and,
# when Debian's chromium and tests/web's node_modules are there, the web
# app's history views against the API calls they make (history-views.mjs).
# BATCH (200) changes a message; PER_REVISION (5) messages between moves
# of the clock, so CHANGES / BATCH / PER_REVISION revisions.
#
#   crates/loadgen/history-bench.sh [CHANGES] [OUT_DIR]
#   BATCH=20 PER_REVISION=1 crates/loadgen/history-bench.sh 100000 out/   # 5,000 revisions
#   DATABASE_URL=postgres://postgres@127.0.0.1/postgres crates/loadgen/history-bench.sh 100000 out/
set -euo pipefail

CHANGES="${1:-100000}"
OUT="${2:-bench-results/history-$(date +%Y%m%d-%H%M%S)}"
source "$(dirname "$0")/bench-env.sh"
start_server --test-clock --max-text-chars 1000000
CHAIR="$(session bench-chair chair)"
TOKENS="$(session d-iom delegate IOM),$(session d-ilo delegate ILO),$(session d-who delegate WHO),$(session d-unhcr delegate UNHCR)"

echo "history benchmark ($BACKEND, $CHANGES changes)"
"$LOADGEN" history --url "ws://127.0.0.1:$PORT/sync" --api "http://127.0.0.1:$PORT" \
  --chair-token "$CHAIR" --tokens "$TOKENS" --changes "$CHANGES" --batch "${BATCH:-200}" \
  --batches-per-revision "${PER_REVISION:-5}" | tee "$OUT/history.txt"

if [[ -x "${ACCORD_CHROMIUM:-/usr/bin/chromium}" && -d tests/web/node_modules/playwright-core ]]; then
  INVITE="$("$ACCORD" user add --name bench-reviewer --role reviewer --database-url "$DB_URL" \
    --public-url "http://127.0.0.1:$PORT" | tail -n 1)"
  ACCORD_URL="http://127.0.0.1:$PORT" ACCORD_INVITE="$INVITE" \
    node crates/loadgen/history-views.mjs | tee "$OUT/views.txt"
else
  echo "history views: skipped (needs /usr/bin/chromium and npm ci in tests/web)"
fi
