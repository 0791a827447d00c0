#!/usr/bin/env bash
# `npm test`: the whole suite in tiers, in order, each stopping the run when it fails — unit (right after `npm
# install`, while the rest is provisioned: its failures show within a minute), api and replay (no servers), workflow
# (the workflows' logic on a real Temporal dev server with mocked activities), then integration (real servers).
# Typecheck and lint run beside the last four at low priority (see below). The Go-built servers (Temporal CLI, MinIO)
# build in the background from the start, since only the last two tiers need them. Integration runs its files
# INTEGRATION_CONCURRENCY at a time, the longest first (see integration below). TEST_NODE: the node binary that runs
# the tests (default: node on PATH). Ends with one summary line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$(date +%s)
NODE=${TEST_NODE:-node}
LOGS=.tools/test-logs
mkdir -p "$LOGS"
elapsed() { echo $(($(date +%s) - start)); }

# The npm dependencies only, so that the unit tier runs within a minute of the start (it needs nothing else); the
# rest is provisioned after it.
bash scripts/provision.sh --npm-only
# The temporal CLI first (every integration file needs it), then MinIO (only the S3 files, which wait for it through
# MINIO_READY_FILE): each writes ok|failed to its status file when its build ends.
rm -f "$LOGS/temporal.status" "$LOGS/minio.status"
(
  if bash scripts/provision.sh --go-only > "$LOGS/provision-go.log" 2>&1; then echo ok > "$LOGS/temporal.status"; else
    echo failed > "$LOGS/temporal.status"; echo failed > "$LOGS/minio.status"; exit 1; fi
  if bash scripts/provision.sh --for-tests --go-only >> "$LOGS/provision-go.log" 2>&1; then echo ok > "$LOGS/minio.status"; else
    echo failed > "$LOGS/minio.status"; exit 1; fi
) &
go_build=$!
export MINIO_READY_FILE="$PWD/$LOGS/minio.status"

declare -A counts
total=0 passed=0 failed=0
# A TAP file's last "# tests|pass|fail N" count (0 when it has none).
tapCount() { grep -a -E "^# $1 [0-9]+" "$2" | tail -1 | grep -o '[0-9]*' || echo 0; }
tier() {
  local name=$1 concurrency=$2 timeout=$3
  shift 3
  echo "== $name tier ($(elapsed) s so far)"
  local status=0
  "$NODE" --import tsx --test --test-reporter=tap --test-concurrency="$concurrency" --test-timeout="$timeout" "$@" \
    | tee "$LOGS/$name.tap" || status=$?
  local t p f
  t=$(tapCount tests "$LOGS/$name.tap") p=$(tapCount pass "$LOGS/$name.tap") f=$(tapCount fail "$LOGS/$name.tap")
  counts[$name]=$t
  total=$((total + t)) passed=$((passed + p)) failed=$((failed + f))
  if [ "$status" -ne 0 ] || [ "$f" -ne 0 ]; then
    # Typecheck and lint, when they run beside this tier: their findings are reported with its failure.
    if [ -n "${static:-}" ]; then
      wait "$static" || true
      [ "$(cat "$LOGS/static.status" 2>/dev/null)" = ok ] || { echo "== static checks failed too:"; cat "$LOGS/typecheck.log" "$LOGS/lint.log" 2>/dev/null || true; }
    fi
    summary "the $name tier failed"
    exit 1
  fi
}
summary() {
  local parts=()
  for n in unit api replay workflow integration; do [ -n "${counts[$n]:-}" ] && parts+=("$n ${counts[$n]}"); done
  echo "== tests $total, pass $passed, fail $failed (${parts[*]}) in $(elapsed) s${1:+: $1}"
}

# The rest of the provisioning (DuckDB extensions, PostgreSQL, Chromium, the Python tools: downloads, mostly) beside
# the unit tier.
bash scripts/provision.sh --for-tests --no-go > "$LOGS/provision.log" 2>&1 &
provision=$!
tier unit 2 60000 test/unit/*.test.ts
wait "$provision" || { cat "$LOGS/provision.log" >&2; summary "provisioning failed"; exit 1; }
cat "$LOGS/provision.log"
# typecheck and lint side by side, at the lowest priority, beside the later tiers: they run on the cores those tiers'
# servers leave idle (the integration tier waits on servers ~10 % of its time). Their status file says ok|failed;
# once it says failed no further integration file starts, and the run fails with their output.
rm -f "$LOGS/static.status"
(
  status=ok
  nice -n 19 npm run --silent typecheck > "$LOGS/typecheck.log" 2>&1 &
  typecheck=$!
  nice -n 19 npm run --silent lint > "$LOGS/lint.log" 2>&1 || status=failed
  wait "$typecheck" || status=failed
  echo "$status" > "$LOGS/static.status"
) &
static=$!
echo "== static checks: typecheck, lint, beside the tiers below ($(elapsed) s so far)"
export STATIC_STATUS_FILE="$PWD/$LOGS/static.status"
staticChecks() {
  wait "$static" || true
  echo "== static checks: typecheck, lint ($(elapsed) s so far)"
  cat "$LOGS/typecheck.log" "$LOGS/lint.log"
  [ "$(cat "$LOGS/static.status" 2>/dev/null)" = ok ] || { summary "typecheck or lint failed"; exit 1; }
}
tier api 2 60000 test/api/*.test.ts
tier replay 1 300000 test/replay/*.test.ts
echo "== waiting for the temporal CLI ($(elapsed) s so far)"
until [ -s "$LOGS/temporal.status" ]; do sleep 1; done
if [ "$(cat "$LOGS/temporal.status")" != ok ]; then
  cat "$LOGS/provision-go.log" >&2
  summary "building the temporal CLI failed"
  exit 1
fi
tier workflow 1 300000 test/workflow/*.test.ts
# Integration: INTEGRATION_CONCURRENCY files at a time (default 3: each file owns its servers and ports; most of
# their time is spent waiting on servers), the longest first so that no slot is left with a long file at the end
# (node's runner would start them in name order). Each file's TAP is kept in $LOGS/integration/ and printed when the
# file ends; then when each file started and ended.
integration() {
  local dir="$LOGS/integration"
  rm -rf "$dir" && mkdir -p "$dir"
  echo "== integration tier ($(elapsed) s so far)"
  local longest=(readme search recovery fleet import extraction fuzz hosts real-world sync login lake restarts build stops)
  local files=() f
  for f in "${longest[@]}"; do files+=("test/integration/$f.test.ts"); done
  for f in test/integration/*.test.ts; do [[ " ${files[*]} " == *" $f "* ]] || files+=("$f"); done
  # 20 minutes a file: the longest, search, took 720 s in a fresh clone's run on an idle machine (2026-12-07); at 15 it
  # had ~3 minutes to spare, and timed out once beside a benchmark.
  T0=$(date +%s) NODE="$NODE" DIR="$dir" xargs -P "${INTEGRATION_CONCURRENCY:-3}" -I{} bash -c '
    # typecheck or lint failed: no further file starts (the run fails below, once the files running have ended)
    [ "$(cat "$STATIC_STATUS_FILE" 2>/dev/null)" = failed ] && { echo "skipped: typecheck or lint failed" > "$DIR/$(basename {} .test.ts).tap"; exit 0; }
    f={}; n=$(basename "$f" .test.ts); start=$(($(date +%s) - T0))
    "$NODE" --import tsx --test --test-reporter=tap --test-timeout=1200000 "$f" > "$DIR/$n.tap" 2>&1; rc=$?
    echo "$start $(($(date +%s) - T0)) $rc $f" >> "$DIR/timeline"
    flock "$DIR/timeline" cat "$DIR/$n.tap"' < <(printf '%s\n' "${files[@]}") || true
  local t=0 p=0 fl=0 tap
  for tap in "$dir"/*.tap; do
    t=$((t + $(tapCount tests "$tap"))) p=$((p + $(tapCount pass "$tap"))) fl=$((fl + $(tapCount fail "$tap")))
  done
  counts[integration]=$t
  total=$((total + t)) passed=$((passed + p)) failed=$((failed + fl))
  echo "== integration tier, file by file (start → end, seconds since the tier started; exit code)"
  # No timeline when no file ran (typecheck or lint failed before the first started): their output follows.
  touch "$dir/timeline"
  sort -n "$dir/timeline" | awk '{ printf "%6d → %4d  %4d s  %s  %s\n", $1, $2, $2 - $1, ($3 == 0 ? "ok" : "exit " $3), $4 }'
  [ "$(cat "$LOGS/static.status" 2>/dev/null)" != failed ] || staticChecks
  if [ "$fl" -ne 0 ] || awk '$3 != 0 { bad = 1 } END { exit !bad }' "$dir/timeline"; then
    # What failed, file by file, next to the summary (each file's whole TAP is printed above, among the others').
    echo "== integration failures"
    awk '$3 != 0 { print $4 }' "$dir/timeline" | while read -r f; do
      echo "-- $f"
      grep -a -E -A14 '^ *not ok' "$dir/$(basename "$f" .test.ts).tap" | head -60 || true
      grep -a -E '^# ' "$dir/$(basename "$f" .test.ts).tap" | grep -a -v -E '^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' | head -12 || true
    done
    summary "the integration tier failed"
    exit 1
  fi
}
integration
staticChecks
wait "$go_build" || true
summary
