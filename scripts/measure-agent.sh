#!/usr/bin/env bash
# The agent's own cost and its spool: CPU (share of one core) and memory (RSS, PSS) of
# `lookout agent` at 10 s and 1 s against a release server on a scratch PostgreSQL, then an
# outage of OUTAGE_SECS (default 360 s at 1 s = an hour of samples at 10 s): spool bytes per
# sample, and how fast the backlog is replayed when the server is back.
# Usage: scripts/measure-agent.sh [measure-seconds]   (needs a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD
secs=${1:-60}
outage=${OUTAGE_SECS:-360}
log() { printf '\033[1m[agent]\033[0m %s\n' "$*" >&2; }
[ -x target/release/lookout ] || { echo "build first: cargo leptos build --release" >&2; exit 1; }

work=$(mktemp -d /tmp/lookout-agent-measure.XXXXXX)
chmod 755 "$work"
agent_pid=""
cleanup() {
  set +e
  [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid"
  stop_release_server
  stop_scratch_pg
  rm -rf "$work"
}
trap cleanup EXIT
unset DATABASE_URL
source scripts/scratch-pg.sh
source scripts/release-server.sh
port=3966
start_server() { LOOKOUT_ADMIN_PASSWORD="measure-password" start_release_server "$port"; }
start_server
enrol=$(target/release/lookout token create --enrol --uses 10 --expires 1h)
clk=$(getconf CLK_TCK)

# CPU ticks (user + system) of a process.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

measure() {
  local interval=$1 vm=$2
  target/release/lookout agent --server "http://127.0.0.1:$port" --enrol-token "$enrol" --interval "$interval" \
    --vm-id "$vm" --state-dir "$work/$vm" >"$work/$vm.log" 2>&1 &
  agent_pid=$!
  sleep 10
  local t0 w0 peak=0 samples=0 rss_sum=0 pss_sum=0
  t0=$(ticks "$agent_pid")
  w0=$(date +%s.%N)
  for _ in $(seq 1 "$secs"); do
    sleep 1
    local rss pss
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$agent_pid/status")
    pss=$(awk '/^Pss:/ {print $2}' "/proc/$agent_pid/smaps_rollup")
    rss_sum=$((rss_sum + rss)); pss_sum=$((pss_sum + pss)); samples=$((samples + 1))
    [ "$rss" -gt "$peak" ] && peak=$rss
  done
  local t1 w1
  t1=$(ticks "$agent_pid")
  w1=$(date +%s.%N)
  awk -v dt="$((t1 - t0))" -v clk="$clk" -v w0="$w0" -v w1="$w1" -v rss="$((rss_sum / samples))" -v pss="$((pss_sum / samples))" -v peak="$peak" -v i="$interval" \
    'BEGIN { printf "| every %s s | %.2f %% | %.1f MiB | %.1f MiB | %.1f MiB |\n", i, 100 * dt / clk / (w1 - w0), rss / 1024, pss / 1024, peak / 1024 }'
}

echo "| agent interval | CPU (one core) | RSS | PSS | peak RSS |"
echo "|---|---|---|---|---|"
measure 10 measure-10
kill -TERM "$agent_pid"; wait "$agent_pid"; agent_pid=""
measure 1 measure-1

log "outage: the server stops for $outage s while the agent samples every second"
count() { psql "$DATABASE_URL" -At -c "SELECT count(*) FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id = 'measure-1'"; }
before=$(count)
spool_before=$(du -sb "$work/measure-1/spool" | awk '{print $1}')
stop_release_server
sleep "$outage"
spool_bytes=$(( $(du -sb "$work/measure-1/spool" | awk '{print $1}') - spool_before ))
started=$(date +%s.%N)
start_server
# Drained: the agent's backlog is in (samples keep arriving at 1/s; stop when the count grows
# by at most one per poll).
previous=0
while true; do
  now_count=$(count)
  if [ $((now_count - previous)) -le 1 ] && [ "$now_count" -gt "$before" ]; then break; fi
  previous=$now_count
  sleep 0.2
done
ended=$(date +%s.%N)
after=$(count)
replayed=$((after - before))
awk -v b="$spool_bytes" -v n="$replayed" -v s="$started" -v e="$ended" \
  'BEGIN { printf "\nspool growth during a %s-sample outage: %d B (%.0f B per sample); replayed %d samples in %.2f s after the server was back (server start included): %.0f samples/s\n", n, b, b / n, n, e - s, n / (e - s) }'
