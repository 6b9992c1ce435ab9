#!/usr/bin/env bash
# The host view's time to first chart over a simulated fleet: N hosts × D days at 10 s written
# through Lookout's ingest path (`lookout simulate`, rollups caught up), then headless Chromium
# (Debian's) signs in and opens the fleet page and the host view of several hosts at the 24 h,
# 7 d and 30 d presets, each in a fresh page with a warm server. Prints, per preset, p50/p99 of
# the time from navigation to the last chart drawn (the page's first complete render), the
# fetch part of it (every chart's series read, sent together) and the draw part.
# Usage: scripts/measure-host-view.sh [hosts, default 100] [days, default 30]
#   needs a release build (scripts/run.sh once) and the end2end npm packages (scripts/test.sh once).
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD
hosts=${1:-100}
days=${2:-30}
log() { printf '\033[1m[host-view]\033[0m %s\n' "$*" >&2; }
[ -x target/release/lookout ] || { echo "build first: cargo leptos build --release" >&2; exit 1; }
[ -d end2end/node_modules/playwright-core ] || { echo "install first: (cd end2end && npm ci)" >&2; exit 1; }

work=$(mktemp -d /tmp/lookout-host-view.XXXXXX)
chmod 755 "$work"
cleanup() {
  set +e
  stop_release_server
  stop_scratch_pg
  rm -rf "$work"
}
trap cleanup EXIT
SCRATCH_PG_OPTS="-c shared_buffers=512MB"
unset DATABASE_URL
source scripts/scratch-pg.sh
source scripts/release-server.sh

token="lk_view_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
password="view-$token"
port=3978
LOOKOUT_BOOTSTRAP_TOKEN="$token" LOOKOUT_ADMIN_PASSWORD="$password" start_release_server "$port"

log "simulating $hosts hosts × $days days at 10 s through the ingest path"
target/release/lookout simulate --hosts "$hosts" --days "$days" --interval 10 --seed 1 --truth "$work/truth.json" >&2
log "waiting for the rollups to catch up"
for _ in $(seq 1 1200); do
  # Buckets still open (this hour, today) wait for their end; everything older must be done.
  queued=$(psql "$DATABASE_URL" -At -c "SELECT (SELECT count(*) FROM rollup_queue_hourly WHERE bucket < now() - interval '2 hours')
    + (SELECT count(*) FROM rollup_queue_daily WHERE bucket < now() - interval '2 days')")
  [ "$queued" = 0 ] && break
  sleep 1
done
psql "$DATABASE_URL" -qc "VACUUM ANALYZE"

log "timing the host view in Chromium"
LOOKOUT_URL="http://127.0.0.1:$port" LOOKOUT_PASSWORD="$password" HOSTS="$hosts" node end2end/measure-host-view.mjs
