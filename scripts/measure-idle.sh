#!/usr/bin/env bash
# Measures the release server's idle CPU and memory (the lookout process only, not PostgreSQL)
# with the sampler at 1 s and at 10 s. Needs a release build (scripts/run.sh or cargo leptos build --release).
# Usage: scripts/measure-idle.sh [seconds per run, default 120]
set -euo pipefail
cd "$(dirname "$0")/.."
duration=${1:-120}
work=$(mktemp -d /tmp/lookout-idle.XXXXXX)
chmod 755 "$work"
pid=""
cleanup() { set +e; [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid"; rm -rf "$work"; }
trap cleanup EXIT
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
for interval in 1 10; do
  env -u DATABASE_URL LOOKOUT_DATA_DIR="$work/data" LOOKOUT_ADMIN_PASSWORD=measure-idle LOOKOUT_SAMPLE_INTERVAL=$interval \
    LOOKOUT_LISTEN=127.0.0.1:3998 LOOKOUT_SITE_ROOT="$PWD/target/site" \
    target/release/lookout >"$work/server-$interval.log" 2>&1 &
  pid=$!
  until curl -fsS http://127.0.0.1:3998/healthz >/dev/null 2>&1; do sleep 0.5; done
  sleep 10   # let start-up work (migrations, first samples) pass
  before=$(ticks "$pid")
  sleep "$duration"
  after=$(ticks "$pid")
  rss_kib=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
  hwm_kib=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
  awk -v d="$((after - before))" -v hz="$hz" -v s="$duration" -v i="$interval" -v rss="$rss_kib" -v hwm="$hwm_kib" \
    'BEGIN { printf "sampler every %2d s: CPU %.2f %% of one core over %d s, RSS %.1f MiB (peak %.1f MiB)\n", i, d / hz / s * 100, s, rss / 1024, hwm / 1024 }'
  kill -TERM "$pid"; wait "$pid"; pid=""
done
