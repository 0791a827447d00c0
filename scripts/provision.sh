#!/usr/bin/env bash
# Idempotent provisioning, cached under .tools/ (git-ignored), per purpose:
#   - always (the demo, `gmail-lake up`, `npm start`): npm dependencies, the temporal CLI (dev server + Web UI) v1.5.1,
#     DuckDB v1.5.5 extensions ducklake, sqlite_scanner, postgres_scanner, httpfs, aws in .tools/duckdb-extensions
#   - with --for-tests (npm test, CI): also the MinIO server, tctl v1.18.4 (optional), PostgreSQL server binaries
#     (Debian's postgresql when missing), Chromium (Debian's chromium) for the browser tests, and pinned Python tools in
#     a virtualenv under .tools/py: schemathesis (API fuzzing), kubernetes-validate, duckdb 1.5.5 (the README's Python)
#   - --no-go / --go-only: everything but the Go-built servers, or only them (`npm test` builds them in the background
#     while the tiers that need no server run); --npm-only: the npm dependencies alone (`npm test` runs the unit tier
#     on them before anything else is provisioned)
# A second run finds everything in place and does no network work.
set -euo pipefail
FOR_TESTS=false GO=true OTHERS=true NPM_ONLY=false
for arg in "$@"; do
  case "$arg" in
    --for-tests) FOR_TESTS=true ;;
    --no-go) GO=false ;;
    --go-only) OTHERS=false ;;
    --npm-only) NPM_ONLY=true ;;
    *) echo "provision: unknown option $arg (--for-tests, --no-go, --go-only, --npm-only)" >&2; exit 2 ;;
  esac
done
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
DUCKDB_VERSION="v1.5.5"
EXT_DIR="${DUCKDB_EXTENSION_DIR:-$TOOLS/duckdb-extensions}"
EXT_PLATFORM_DIR="$EXT_DIR/$DUCKDB_VERSION/linux_amd64"
EXTENSIONS=(ducklake postgres_scanner httpfs sqlite_scanner aws)
mkdir -p "$BIN" "$EXT_PLATFORM_DIR"

say() { printf '[provision] %s\n' "$*"; }
die() { printf '[provision] ERROR: %s\n' "$*" >&2; exit 1; }

# --- Node dependencies -------------------------------------------------------------------------------------------
if $OTHERS && [ ! -d "$ROOT/node_modules/@duckdb/node-api" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
  # `npm install` from the committed lock, not `npm ci`: some registries lack @swc/core's optional binaries for other
  # platforms, which leaves them out of the lock and makes `npm ci` refuse an otherwise complete install.
  say "installing npm dependencies (npm install from package-lock.json)"
  (cd "$ROOT" && npm install --no-audit --no-fund --loglevel=error)
fi
# --npm-only (npm test, first): the unit tier needs nothing else.
if $NPM_ONLY; then exit 0; fi

# --- Go-built CLIs -----------------------------------------------------------------------------------------------
# $1 name, $2 env var naming an existing binary, $3 go module@version, $4 expected version substring
provide_go_tool() {
  local name="$1" var="$2" module="$3" want="$4" optional="${5:-}" given="${!2:-}"
  if [ -n "$given" ]; then
    [ -x "$given" ] || die "$var=$given is not an executable file"
    ln -sf "$given" "$BIN/$name"; say "$name: using $var=$given"; return
  fi
  if [ -x "$BIN/$name" ]; then say "$name: cached ($BIN/$name)"; return; fi
  local onpath; onpath="$(command -v "$name" || true)"
  if [ -n "$onpath" ] && "$onpath" --version 2>/dev/null | grep -q "$want"; then
    ln -sf "$onpath" "$BIN/$name"; say "$name: using $onpath from PATH"; return
  fi
  local marker="$TOOLS/.$name-unavailable"
  if [ -n "$optional" ] && [ -f "$marker" ]; then say "$name: unavailable (optional; see $marker)"; return; fi
  command -v go >/dev/null || die "$name not found and Go is missing. Install Go ≥1.23 or put $name $want on PATH (or set $var)."
  say "$name: building $module with go install (first time takes several minutes)"
  if ! GOBIN="$BIN" go install "$module" 2> "$TOOLS/$name-build.log"; then
    if [ -n "$optional" ]; then
      cp "$TOOLS/$name-build.log" "$marker"
      say "$name: WARNING could not build it (optional; put $name on PATH or set $var): $(tail -n 2 "$marker" | tr '\n' ' ')"
      return
    fi
    cat "$TOOLS/$name-build.log" >&2
    die "go install $module failed. Install $name $want yourself and set $var=/path/to/$name."
  fi
}
if $GO; then provide_go_tool temporal TEMPORAL_CLI github.com/temporalio/cli/cmd/temporal@v1.5.1 "1.5.1"; fi
if $GO && $FOR_TESTS; then
  # MinIO: the S3-compatible object store the production-topology tests start (pinned: @latest resolved to this on 2026-11-23).
  provide_go_tool minio MINIO_SERVER github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c "DEVELOPMENT"
  # tctl is deprecated and optional: the Go module proxy does not serve it everywhere (it answers 403 here).
  provide_go_tool tctl TCTL_CLI github.com/temporalio/tctl/cmd/tctl@v1.18.4 "1.18.4" optional
fi

if ! $OTHERS; then say "done (Go-built servers)"; exit 0; fi

# --- DuckDB extensions -------------------------------------------------------------------------------------------
missing=()
for e in "${EXTENSIONS[@]}"; do [ -f "$EXT_PLATFORM_DIR/$e.duckdb_extension" ] || missing+=("$e"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "DuckDB extensions missing: ${missing[*]}; trying INSTALL from DuckDB's repository"
  if ! (cd "$ROOT" && DUCKDB_EXTENSION_DIR="$EXT_DIR" timeout 120 node scripts/install-extensions.mjs "${missing[@]}" 2> "$TOOLS/duckdb-install.log"); then
    say "INSTALL failed (offline?); falling back to the official signed binaries on PyPI"
    tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
    specs=(); for e in "${missing[@]}"; do specs+=("duckdb-extension-${e//_/-}==${DUCKDB_VERSION#v}"); done
    command -v pip >/dev/null || command -v pip3 >/dev/null || die "pip is missing: cannot fetch DuckDB extensions offline"
    "$(command -v pip || command -v pip3)" download --quiet --no-deps -d "$tmp" "${specs[@]}" \
      || die "could not download ${specs[*]} from PyPI"
    for e in "${missing[@]}"; do
      whl="$(ls "$tmp"/duckdb_extension_"$e"-*.whl)"
      python3 -c "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); sys.stdout.buffer.write(z.read('duckdb_extension_$e/extensions/$DUCKDB_VERSION/$e.duckdb_extension'))" \
        "$whl" > "$EXT_PLATFORM_DIR/$e.duckdb_extension"
    done
  fi
fi
for e in "${EXTENSIONS[@]}"; do [ -s "$EXT_PLATFORM_DIR/$e.duckdb_extension" ] || die "extension $e missing in $EXT_PLATFORM_DIR"; done
say "DuckDB extensions ready in $EXT_DIR"

# --- PostgreSQL server -------------------------------------------------------------------------------------------
find_pg() {
  for d in ${PG_BINDIR:-} /usr/lib/postgresql/*/bin "$(dirname "$(command -v postgres 2>/dev/null || echo /nonexistent/x)")"; do
    [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
}
if $FOR_TESTS && [ -z "$(find_pg)" ]; then
  command -v apt-get >/dev/null || die "PostgreSQL server binaries not found; install PostgreSQL ≥14 or set PG_BINDIR"
  say "installing PostgreSQL server (apt-get install postgresql)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null || die "apt-get install postgresql failed"
fi
$FOR_TESTS && say "PostgreSQL binaries in $(find_pg)"

# Chromium for the dashboard's browser test (playwright-core drives it; it cannot download browsers here). Only with
# --for-tests (npm test): the demo and the stack do not need it.
CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
if $FOR_TESTS && [ ! -x "$CHROMIUM" ]; then
  command -v apt-get >/dev/null || die "Chromium not found at $CHROMIUM; install Debian's chromium or set CHROMIUM_PATH"
  say "installing Chromium (apt-get install chromium)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq chromium >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } ||
    die "apt-get install chromium failed"
fi
$FOR_TESTS && say "Chromium: $("$CHROMIUM" --version 2>/dev/null | head -1)"
# Python test tools, pinned, in a virtualenv: schemathesis (API fuzzing), kubernetes-validate (the Kubernetes
# manifests against the JSON schemas it bundles: offline) and duckdb 1.5.5 (the docs' Python reader of the lake).
SCHEMATHESIS_VERSION=4.32.5
KUBERNETES_VALIDATE_VERSION=1.37.0
DUCKDB_PY_VERSION=1.5.5
if $FOR_TESTS; then
  if ! "$TOOLS/py/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION" ||
    ! "$TOOLS/py/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$KUBERNETES_VALIDATE_VERSION" ||
    ! "$TOOLS/py/bin/python" -c "import duckdb, sys; sys.exit(duckdb.__version__ != '$DUCKDB_PY_VERSION')" 2>/dev/null; then
    say "installing schemathesis $SCHEMATHESIS_VERSION, kubernetes-validate $KUBERNETES_VALIDATE_VERSION, duckdb $DUCKDB_PY_VERSION in $TOOLS/py"
    python3 -m venv "$TOOLS/py" &&
      "$TOOLS/py/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION" "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" \
        "duckdb==$DUCKDB_PY_VERSION" ||
      die "pip install of the Python test tools failed"
  fi
  say "schemathesis $("$TOOLS/py/bin/schemathesis" --version | grep -o '[0-9.]*$'), kubernetes-validate $("$TOOLS/py/bin/kubernetes-validate" --version), duckdb $("$TOOLS/py/bin/python" -c 'import duckdb; print(duckdb.__version__)')"
fi
say "done"
