#!/usr/bin/env bash
# `npm test`: the whole suite in tiers, in order, each stopping the run when it fails — unit (right after `npm
# install`: its failures show within a minute), static checks, api and replay (no servers), workflow (the workflows'
# logic on a real Temporal dev server with mocked activities), then integration (real servers). The Go-built servers
# (Temporal CLI, MinIO) build in the background from the start, since only the last two tiers need them.
# Integration runs its files INTEGRATION_CONCURRENCY at a time (default 3: each file owns its servers and ports; most
# of their time is spent waiting on servers, so three fit two cores).
# TEST_NODE: the node binary that runs the tests (default: node on PATH). Ends with one summary line.
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
tier() {
  local name=$1 concurrency=$2 timeout=$3
  shift 3
  echo "== $name tier ($(elapsed) s so far)"
  local status=0
  "$NODE" --import tsx --import ./scripts/test-timeline.mjs --test --test-reporter=tap --test-concurrency="$concurrency" --test-timeout="$timeout" "$@" \
    | tee "$LOGS/$name.tap" || status=$?
  local t p f
  t=$(grep -a -E '^# tests [0-9]+' "$LOGS/$name.tap" | tail -1 | grep -o '[0-9]*' || echo 0)
  p=$(grep -a -E '^# pass [0-9]+' "$LOGS/$name.tap" | tail -1 | grep -o '[0-9]*' || echo 0)
  f=$(grep -a -E '^# fail [0-9]+' "$LOGS/$name.tap" | tail -1 | grep -o '[0-9]*' || echo 0)
  counts[$name]=$t
  total=$((total + t)) passed=$((passed + p)) failed=$((failed + f))
  if [ -s "$LOGS/$name.timeline" ]; then
    echo "== $name tier, file by file (start → end, seconds since the tier started)"
    sort -n "$LOGS/$name.timeline" | awk '{ printf "%6d → %4d  %4d s  %s\n", $1, $2, $2 - $1, $3 }'
  fi
  if [ "$status" -ne 0 ] || [ "$f" -ne 0 ]; then
    summary "the $name tier failed"
    exit 1
  fi
}
summary() {
  local parts=()
  for n in unit api replay workflow integration; do [ -n "${counts[$n]:-}" ] && parts+=("$n ${counts[$n]}"); done
  echo "== tests $total, pass $passed, fail $failed (${parts[*]}) in $(elapsed) s${1:+: $1}"
}

tier unit 2 60000 test/unit/*.test.ts
bash scripts/provision.sh --for-tests --no-go
echo "== static checks: typecheck, lint ($(elapsed) s so far)"
npm run --silent typecheck || { summary "typecheck failed"; exit 1; }
npm run --silent lint || { summary "lint failed"; exit 1; }
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
# The longest files first, so that no slot is left with a long file at the end (the rest in name order).
first=(readme fuzz extraction hosts sync recovery lake login fleet)
files=()
for f in "${first[@]}"; do files+=("test/integration/$f.test.ts"); done
for f in test/integration/*.test.ts; do [[ " ${files[*]} " == *" $f "* ]] || files+=("$f"); done
rm -f "$LOGS/integration.timeline"
TEST_TIMELINE="$PWD/$LOGS/integration.timeline" TEST_T0=$(date +%s%3N) \
  tier integration "${INTEGRATION_CONCURRENCY:-3}" 900000 "${files[@]}"
wait "$go_build" || true
summary
