#!/usr/bin/env bash
# Runs every test: unit, integration against a real PostgreSQL, and browser end-to-end.
# Uses $DATABASE_URL when set; otherwise starts a throwaway PostgreSQL (Unix socket only).
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD
log() { printf '\033[1m[test]\033[0m %s\n' "$*"; }

scripts/setup.sh

work=$(mktemp -d /tmp/lookout-test.XXXXXX)
chmod 755 "$work"   # the postgres account must reach the clusters inside
server_pid=""
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
  set +e
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"; wait "$server_pid"
  fi
  if [ -f "$work/pg/postmaster.pid" ]; then as_pg "$pg_bin/pg_ctl" -D "$work/pg" -m immediate -w stop >/dev/null; fi
  if [ -f "$work/data/postgres/postmaster.pid" ]; then as_pg "$pg_bin/pg_ctl" -D "$work/data/postgres" -m immediate -w stop >/dev/null; fi
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${DATABASE_URL:-}" ]; then
  log "starting a throwaway PostgreSQL in $work/pg"
  mkdir -p "$work/pg"
  [ "$(id -u)" = 0 ] && chown postgres: "$work/pg"
  as_pg "$pg_bin/initdb" -D "$work/pg" -U app --auth=trust -E UTF8 --no-locale >/dev/null
  # Durability is pointless for a test database; these make it several times faster.
  as_pg "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg/server.log" -w \
    -o "-c listen_addresses='' -k $work/pg -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null
  export DATABASE_URL="postgres:///postgres?host=$work/pg&user=app"
fi

log "unit tests (app, ssr)"
cargo test --locked -p app --features ssr
log "lints (server, all targets)"
cargo clippy --locked -p server --all-targets -- -D warnings
log "unit and integration tests (server)"
cargo test --locked -p server

log "release build (cargo leptos build --release)"
PATH="$root_dir/end2end/node_modules/.bin:$PATH" cargo leptos build --release

log "browser end-to-end tests against the release build on a managed PostgreSQL"
port=3999
password="e2e-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
(
  unset DATABASE_URL
  export LOOKOUT_DATA_DIR="$work/data" LOOKOUT_ADMIN_PASSWORD="$password" LOOKOUT_SAMPLE_INTERVAL=1 \
    LOOKOUT_LISTEN="127.0.0.1:$port" LOOKOUT_SITE_ROOT="$root_dir/target/site"
  exec target/release/lookout >"$work/server.log" 2>&1
) &
server_pid=$!
for _ in $(seq 1 120); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.5
done
if ! (cd end2end && LOOKOUT_URL="http://127.0.0.1:$port" LOOKOUT_PASSWORD="$password" node --test tests/); then
  log "server log:"; tail -n 50 "$work/server.log"; exit 1
fi
kill -TERM "$server_pid"; wait "$server_pid"; server_pid=""
grep -q "Managed PostgreSQL stopped" "$work/server.log" || { log "managed PostgreSQL was not stopped cleanly"; tail -n 20 "$work/server.log"; exit 1; }
log "all tests passed"
