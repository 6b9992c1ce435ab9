#!/usr/bin/env bash
# Idle cost of the whole monitoring stack, side by side in one run: Lookout (release server and
# its managed PostgreSQL), Debian's prometheus + prometheus-node-exporter, and netdata, each
# with its packaged defaults except the collection interval, at 10 s and at 1 s. One stack runs
# at a time; for each, after a warm-up, the CPU of its whole process tree (user + system, reaped
# children included) over the measured seconds as a share of one core, and its memory as the sum
# of PSS (shared pages split between the processes that map them) at the end.
# Usage: scripts/compare-idle.sh [measured seconds, default 120] [warm-up seconds, default 30]
#   STACKS="lookout prometheus netdata" (the default) picks the stacks, INTERVALS="10 1" the intervals.
#   needs a release build (scripts/run.sh once); installs the three Debian packages if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD
secs=${1:-120}
warm=${2:-30}
log() { printf '\033[1m[idle]\033[0m %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
[ -x target/release/lookout ] || { echo "build first: cargo leptos build --release" >&2; exit 1; }
if ! command -v prometheus >/dev/null || ! command -v prometheus-node-exporter >/dev/null || ! [ -x /usr/sbin/netdata ]; then
  log "apt-get install prometheus prometheus-node-exporter netdata"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus prometheus-node-exporter netdata >/dev/null
fi
# The packages start services of their own where systemd runs; this comparison runs its own.
for unit in prometheus prometheus-node-exporter netdata; do as_root systemctl stop "$unit" 2>/dev/null || true; done
pkill -x netdata 2>/dev/null || true

work=$(mktemp -d /tmp/lookout-idle-compare.XXXXXX)
chmod 755 "$work"
roots=()
cleanup() {
  set +e
  stop_all
  rm -rf "$work"
}
trap cleanup EXIT
clk=$(getconf CLK_TCK)

# Every process whose ancestry reaches one of the given pids (the pids included).
tree() {
  local ps_out
  ps_out=$(ps -e -o pid=,ppid=)
  awk -v roots="$*" 'BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
    { parent[$1] = $2; pids[NR] = $1 }
    END { changed = 1; while (changed) { changed = 0; for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } } }
          for (p in keep) print p }' <<<"$ps_out"
}
# utime + stime + cutime + cstime of the tree, in clock ticks.
cpu_ticks() {
  local total=0 p
  for p in $(tree "$@"); do
    [ -r "/proc/$p/stat" ] || continue
    total=$((total + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
pss_kib() {
  local total=0 p v
  for p in $(tree "$@"); do
    v=$(awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || true)
    total=$((total + ${v:-0}))
  done
  echo "$total"
}
measure() {
  local name=$1 interval=$2
  shift 2
  sleep "$warm"
  local t0 w0 t1 w1 pss
  t0=$(cpu_ticks "$@"); w0=$(date +%s.%N)
  sleep "$secs"
  t1=$(cpu_ticks "$@"); w1=$(date +%s.%N)
  pss=$(pss_kib "$@")
  awk -v n="$name" -v i="$interval" -v dt="$((t1 - t0))" -v clk="$clk" -v w0="$w0" -v w1="$w1" -v pss="$pss" -v procs="$(tree "$@" | wc -l)" \
    'BEGIN { printf "| %s | %s s | %.2f %% | %.1f MiB | %d |\n", n, i, 100 * dt / clk / (w1 - w0), pss / 1024, procs }'
}
stop_all() {
  local pid
  for pid in "${roots[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${roots[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  roots=()
}

lookout() {
  local interval=$1 data="$work/lookout-$1"
  env -u DATABASE_URL LOOKOUT_DATA_DIR="$data" LOOKOUT_ADMIN_PASSWORD=compare-idle LOOKOUT_SAMPLE_INTERVAL="$interval" \
    LOOKOUT_LISTEN=127.0.0.1:3997 LOOKOUT_SITE_ROOT="$root_dir/target/site" target/release/lookout serve >"$work/lookout-$interval.log" 2>&1 &
  roots=($!)
  until curl -fsS http://127.0.0.1:3997/healthz >/dev/null 2>&1; do sleep 0.5; done
  # The managed cluster is not a child of the server: its postmaster is found by its pid file.
  local pg_pid
  for _ in $(seq 1 60); do
    pg_pid=$(head -1 "$(readlink -f "$data/postgres")/postmaster.pid" 2>/dev/null || true)
    [ -n "$pg_pid" ] && break
    sleep 0.5
  done
  roots+=("$pg_pid")
  measure "Lookout + PostgreSQL" "$interval" "${roots[@]}"
  kill -TERM "${roots[0]}"; wait "${roots[0]}" 2>/dev/null || true
  roots=()
}

prometheus_stack() {
  local interval=$1
  prometheus-node-exporter --web.listen-address=127.0.0.1:9109 >"$work/node-$interval.log" 2>&1 &
  roots=($!)
  # Debian's prometheus.yml (itself and node_exporter) with the interval asked for.
  cat >"$work/prometheus-$interval.yml" <<EOF
global:
  scrape_interval: ${interval}s
  evaluation_interval: ${interval}s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ['127.0.0.1:9498']
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:9109']
EOF
  prometheus --config.file="$work/prometheus-$interval.yml" --storage.tsdb.path="$work/prom-$interval" \
    --web.listen-address=127.0.0.1:9498 >"$work/prometheus-$interval.log" 2>&1 &
  roots+=($!)
  until curl -fsS http://127.0.0.1:9498/-/ready >/dev/null 2>&1; do sleep 0.5; done
  measure "Prometheus + node_exporter" "$interval" "${roots[@]}"
  stop_all
}

netdata_stack() {
  local interval=$1
  mkdir -p "$work/netdata-$interval"/{cache,lib,log}
  chown -R netdata: "$work/netdata-$interval" 2>/dev/null || true
  /usr/sbin/netdata -D -W set global "update every" "$interval" -W set global "cache directory" "$work/netdata-$interval/cache" \
    -W set global "lib directory" "$work/netdata-$interval/lib" -W set global "log directory" "$work/netdata-$interval/log" \
    -W set web "bind to" 127.0.0.1:19998 >"$work/netdata-$interval.out" 2>&1 &
  roots=($!)
  until curl -fsS http://127.0.0.1:19998/api/v1/info >/dev/null 2>&1; do sleep 0.5; done
  measure "Netdata" "$interval" "${roots[@]}"
  stop_all
}

echo "| stack | interval | CPU (one core) | PSS | processes |"
echo "|---|---|---|---|---|"
for interval in ${INTERVALS:-10 1}; do
  for stack in ${STACKS:-lookout prometheus netdata}; do
    case $stack in
      lookout) lookout "$interval" ;;
      prometheus) prometheus_stack "$interval" ;;
      netdata) netdata_stack "$interval" ;;
      *) echo "unknown stack $stack" >&2; exit 2 ;;
    esac
  done
done
