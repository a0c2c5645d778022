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
source "$(dirname "$0")/bench-env.sh"
start_server --test-clock --max-text-chars 1000000
CHAIR="$(session bench-chair chair)"
TOKENS="$(session d-iom delegate IOM),$(session d-ilo delegate ILO),$(session d-who delegate WHO),$(session d-unhcr delegate UNHCR)"

echo "history benchmark ($BACKEND, $CHANGES changes)"
"$LOADGEN" history --url "ws://127.0.0.1:$PORT/sync" --api "http://127.0.0.1:$PORT" \
  --chair-token "$CHAIR" --tokens "$TOKENS" --changes "$CHANGES" --batch "${BATCH:-200}" | tee "$OUT/history.txt"
