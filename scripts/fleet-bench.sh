#!/usr/bin/env bash
# A fleet on one machine: N `lookout agent` processes (each its own identity, state directory
# and spool, sampling this machine with the real collector) against one release server on a
# scratch PostgreSQL, for a bounded time, with the server stopped for 30 s and started again in
# the middle. Prints samples/s accepted, the server's CPU (lookout + PostgreSQL trees) and RSS,
# the agents' answer latencies (p50/p99 of every batch answered 200, as the agents timed them),
# the 503s they were told to back off with, and whether any sample was lost: every host's stored
# samples must be gap-free (no step above 1.5 intervals) from its first to its last.
# Usage: scripts/fleet-bench.sh [agents, default 200] [seconds, default 300] [interval s, default 10]
#   needs a release build (scripts/run.sh once).
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD
agents=${1:-200}
secs=${2:-300}
interval=${3:-10}
log() { printf '\033[1m[fleet]\033[0m %s\n' "$*" >&2; }
[ -x target/release/lookout ] || { echo "build first: cargo leptos build --release" >&2; exit 1; }

work=$(mktemp -d /tmp/lookout-fleet.XXXXXX)
chmod 755 "$work"
agent_pids=()
cleanup() {
  set +e
  for pid in "${agent_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${agent_pids[@]}"; do wait "$pid" 2>/dev/null; done
  stop_release_server
  stop_scratch_pg
  rm -rf "$work"
}
trap cleanup EXIT
unset DATABASE_URL
source scripts/scratch-pg.sh
source scripts/release-server.sh
clk=$(getconf CLK_TCK)
port=3955
# The agents all come from 127.0.0.1: the per-client rate limit would throttle them as one.
start_server() { LOOKOUT_ADMIN_PASSWORD="fleet-password" start_release_server "$port"; }
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# CPU ticks of the scratch cluster: its postmaster and every process it started.
pg_ticks() {
  local total=0 p postmaster
  postmaster=$(head -1 "$work/pg/postmaster.pid")
  for p in $postmaster $(pgrep -P "$postmaster"); do total=$((total + $(ticks "$p"))); done
  echo "$total"
}

start_server
enrol=$(target/release/lookout token create --enrol --uses "$agents" --expires 2h)
log "$agents agents, a sample every $interval s each, for $secs s (the server restarts half-way)"
for i in $(seq -w 1 "$agents"); do
  RUST_LOG="warn,lookout::agent=debug" target/release/lookout agent --server "http://127.0.0.1:$port" --enrol-token "$enrol" \
    --interval "$interval" --vm-id "fleet-$i" --state-dir "$work/agents/$i" >"$work/agent-$i.log" 2>&1 &
  agent_pids+=($!)
done
sleep 20   # enrolment and the first samples
start_count=$(psql "$DATABASE_URL" -At -c "SELECT count(*) FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id LIKE 'fleet-%'")
t0=$(( $(ticks "$server_pid") )); p0=$(pg_ticks); w0=$(date +%s.%N)
half=$((secs / 2))
sleep "$half"
t_mid=$(ticks "$server_pid")
log "stopping the server for 30 s"
stop_release_server
sleep 30
start_server
sleep $((secs - half - 30))
t1=$(( t_mid + $(ticks "$server_pid") )); p1=$(pg_ticks); w1=$(date +%s.%N)
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$server_pid/status"); hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$server_pid/status")
end_count=$(psql "$DATABASE_URL" -At -c "SELECT count(*) FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id LIKE 'fleet-%'")

log "stopping the agents and letting their spools drain"
for pid in "${agent_pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
for pid in "${agent_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
agent_pids=()
drains=()
for i in $(seq -w 1 "$agents"); do
  # Whatever a spool still holds is sent by a short run of the agent after the stop (all at once).
  backlog=$(grep -o 'backlog=[0-9]*' "$work/agent-$i.log" | tail -1 | cut -d= -f2)
  if [ "${backlog:-0}" -gt 0 ]; then
    timeout 20 target/release/lookout agent --server "http://127.0.0.1:$port" --interval 3600 --vm-id "fleet-$i" --state-dir "$work/agents/$i" >>"$work/agent-$i.log" 2>&1 &
    drains+=($!)
  fi
done
log "${#drains[@]} agents had samples left in their spools at the stop"
for pid in "${drains[@]}"; do wait "$pid" 2>/dev/null || true; done

read -r hosts gaps worst <<<"$(psql "$DATABASE_URL" -At -F ' ' -c "
  SELECT count(DISTINCT vm), count(*) FILTER (WHERE step > $interval * 1.5), coalesce(max(step), 0)
  FROM (SELECT h.vm_id AS vm, extract(epoch FROM s.ts - lag(s.ts) OVER (PARTITION BY s.host_id ORDER BY s.ts)) AS step
        FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id LIKE 'fleet-%') steps")"
latencies=$(cat "$work"/agent-*.log | grep 'Batch answered' | grep 'status=200' | sed -E 's/.*ms=([0-9.]+).*/\1/' | sort -n)
busy=$(cat "$work"/agent-*.log | grep 'Batch answered' | grep -c 'status=503' || true)
n=$(wc -l <<<"$latencies")
p50=$(sed -n "$(( (n + 1) / 2 ))p" <<<"$latencies")
p99=$(sed -n "$(( (n * 99 + 99) / 100 ))p" <<<"$latencies")
awk -v a="$agents" -v i="$interval" -v s="$(awk -v a="$w0" -v b="$w1" 'BEGIN { print b - a }')" -v stored="$((end_count - start_count))" \
  -v lt="$((t1 - t0))" -v pt="$((p1 - p0))" -v clk="$clk" -v rss="$rss" -v hwm="$hwm" -v p50="$p50" -v p99="$p99" -v n="$n" -v busy="$busy" \
  -v hosts="$hosts" -v gaps="$gaps" -v worst="$worst" 'BEGIN {
    printf "| agents × interval | %d × %d s |\n|---|---|\n", a, i
    printf "| samples stored per second (measured %.0f s, restart included) | %.1f |\n", s, stored / s
    printf "| server CPU (lookout / PostgreSQL, share of one core) | %.1f %% / %.1f %% |\n", 100 * lt / clk / s, 100 * pt / clk / s
    printf "| server RSS at the end (peak) | %.1f MiB (%.1f MiB) |\n", rss / 1024, hwm / 1024
    printf "| batch answer time p50 / p99 (%d batches answered 200) | %.1f ms / %.1f ms |\n", n, p50, p99
    printf "| 503 busy answers (the agents backed off and retried) | %d |\n", busy
    printf "| hosts with samples / gaps over 1.5 intervals (largest step) | %d / %d (%.0f s) |\n", hosts, gaps, worst
  }'
