#!/usr/bin/env bash
# Runs every test: unit, integration against a real PostgreSQL, and browser end-to-end.
# Uses $DATABASE_URL when set; otherwise starts a throwaway PostgreSQL (Unix socket only).
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD
log() { printf '\033[1m[test]\033[0m %s\n' "$*"; }
ci=false
case "${CI:-}" in true|1) ci=true ;; esac
# A CI run builds once from a clean clone: incremental caches would only cost disk (GBs).
$ci && export CARGO_INCREMENTAL=0

scripts/setup.sh

work=$(mktemp -d /tmp/lookout-test.XXXXXX)
chmod 755 "$work"   # the postgres account must reach the clusters inside
server_pid=""

cleanup() {
  set +e
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"; wait "$server_pid"
  fi
  stop_scratch_pg
  if [ -f "$work/data/postgres/postmaster.pid" ]; then as_pg "$pg_bin/pg_ctl" -D "$work/data/postgres" -m immediate -w stop >/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Durability is pointless for a test database; these make it several times faster.
SCRATCH_PG_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
[ -z "${DATABASE_URL:-}" ] && log "starting a throwaway PostgreSQL in $work/pg"
source scripts/scratch-pg.sh

log "unit tests (app, ssr)"
cargo test --locked -p app --features ssr
log "lints (server, all targets; app for the server and for the browser)"
cargo clippy --locked -p server --all-targets -- -D warnings
cargo clippy --locked -p app --features ssr -- -D warnings
cargo clippy --locked -p app --no-default-features --features hydrate --target wasm32-unknown-unknown -- -D warnings
log "unit and integration tests (server)"
cargo test --locked -p server
# The release stage needs nothing from the debug build; on CI free its disk before it.
$ci && { log "removing target/debug ($(du -sh target/debug | cut -f1)) before the release build"; rm -rf target/debug; }

log "release build (cargo leptos build --release)"
PATH="$root_dir/end2end/node_modules/.bin:$PATH" cargo leptos build --release --precompress

log "bundle size (Lookout's own WASM and JS, brotli, budget 150 KB)"
node scripts/bundle-size.mjs target/site

log "browser end-to-end tests against the release build on a managed PostgreSQL, with the demo fleet"
port=3999
password="e2e-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
token="lk_e2e_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
(
  unset DATABASE_URL
  export LOOKOUT_DATA_DIR="$work/data" LOOKOUT_ADMIN_PASSWORD="$password" LOOKOUT_SAMPLE_INTERVAL=1 \
    LOOKOUT_LISTEN="127.0.0.1:$port" LOOKOUT_SITE_ROOT="$root_dir/target/site" LOOKOUT_DEMO=true \
    LOOKOUT_BOOTSTRAP_TOKEN="$token" LOOKOUT_RATE_LIMIT=0 LOOKOUT_JOB_POLL=5
  exec target/release/lookout >"$work/server.log" 2>&1
) &
server_pid=$!
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.5
done
if ! (cd end2end && LOOKOUT_URL="http://127.0.0.1:$port" LOOKOUT_PASSWORD="$password" LOOKOUT_TOKEN="$token" node --test tests/); then
  log "server log:"; tail -n 50 "$work/server.log"; exit 1
fi
kill -TERM "$server_pid"; wait "$server_pid"; server_pid=""
grep -q "Managed PostgreSQL stopped" "$work/server.log" || { log "managed PostgreSQL was not stopped cleanly"; tail -n 20 "$work/server.log"; exit 1; }
log "all tests passed"
