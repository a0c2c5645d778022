#!/bin/sh
# Coverage-guided fuzzing of one target with cargo-fuzz (libFuzzer).
#
#   fuzz/run.sh TARGET 300s       # for 300 seconds
#   fuzz/run.sh TARGET 10000000   # for ten million executions
#
# Targets: wire, sync, policy, scenario, api (see crates/fuzzing and
# server/src/fuzzing.rs). The corpus (fuzz/corpus/TARGET, not committed)
# starts from the committed seeds (fuzz/seeds/TARGET) and regression inputs
# (fuzz/regressions/TARGET); crashes land in fuzz/artifacts/TARGET. Memory
# blow-ups count as crashes (-rss_limit_mb, -malloc_limit_mb), and so do
# inputs slower than -timeout. Extra arguments go to libFuzzer (e.g. -jobs=2).
#
# Stable Rust is enough: with `--sanitizer none` (the code under test
# forbids `unsafe`) every flag cargo-fuzz gives rustc is stable (it adds
# `-Z` flags only for sanitizers and build-std). Without a sanitizer,
# libFuzzer cannot hook malloc, so -rss_limit_mb is the limit that bites.
set -eu
cd "$(dirname "$0")"
target=${1:?usage: fuzz/run.sh TARGET SECONDS|RUNS}
budget=${2:-60s}
shift $(($# < 2 ? $# : 2))
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
features=""
[ "$target" = api ] && features="--features api"
corpus=corpus/$target
mkdir -p "$corpus" "artifacts/$target"
for dir in "seeds/$target" "regressions/$target"; do
    [ -d "$dir" ] && cp -n "$dir"/* "$corpus"/ 2>/dev/null || true
done
case $budget in
*s) limit="-max_total_time=${budget%s}" ;;
*) limit="-runs=$budget" ;;
esac
# shellcheck disable=SC2086
exec cargo fuzz run --sanitizer none $features "$target" "$corpus" -- \
    -rss_limit_mb=512 -malloc_limit_mb=512 -timeout=10 \
    -artifact_prefix="artifacts/$target/" -print_final_stats=1 "$limit" "$@"
