#!/usr/bin/env bash
# Reads beside Prometheus on the same data: 20 simulated hosts × 30 days at 10 s written through
# Lookout's ingest path, the same CPU samples exported as OpenMetrics and loaded into Debian's
# prometheus with `promtool tsdb create-blocks-from openmetrics`; then the chart reads of both,
# timed by scripts/compare-reads.mjs (p50/p99 over repeated requests, one after another).
# Usage: scripts/compare-prometheus.sh [hosts] [days]   (needs a release build: scripts/run.sh once)
set -euo pipefail
cd "$(dirname "$0")/.."
root_dir=$PWD
hosts=${1:-20}
days=${2:-30}
log() { printf '\033[1m[compare]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

command -v promtool >/dev/null && command -v prometheus >/dev/null || {
  log "apt-get install prometheus"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus
}
# The package starts a service of its own; this comparison runs its own instance.
as_root systemctl stop prometheus 2>/dev/null || true
[ -x target/release/lookout ] || { echo "build first: cargo leptos build --release" >&2; exit 1; }

work=$(mktemp -d /tmp/lookout-compare.XXXXXX)
chmod 755 "$work"
prom_pid=""
cleanup() {
  set +e
  stop_release_server
  [ -n "$prom_pid" ] && kill -TERM "$prom_pid" && wait "$prom_pid"
  stop_scratch_pg
  rm -rf "$work"
}
trap cleanup EXIT
SCRATCH_PG_OPTS="-c shared_buffers=512MB"
unset DATABASE_URL
source scripts/scratch-pg.sh
source scripts/release-server.sh

token="lk_compare_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
port=3977
log "lookout on :$port"
LOOKOUT_BOOTSTRAP_TOKEN="$token" LOOKOUT_ADMIN_PASSWORD="compare-$token" start_release_server "$port"

log "simulating $hosts hosts × $days days at 10 s through the ingest path"
target/release/lookout simulate --hosts "$hosts" --days "$days" --interval 10 --seed 1 --truth "$work/truth.json"
psql "$DATABASE_URL" -qc "VACUUM ANALYZE"

log "the same CPU samples as OpenMetrics"
om="$work/cpu.om"
{
  echo "# HELP cpu_percent CPU usage in percent."
  echo "# TYPE cpu_percent gauge"
  psql "$DATABASE_URL" -At -F ' ' -c "COPY (
      SELECT 'cpu_percent{vm=\"' || h.vm_id || '\"}', s.cpu_percent, to_char(extract(epoch FROM s.ts), 'FM9999999999.000')
      FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id LIKE 'sim-%' ORDER BY h.vm_id, s.ts
    ) TO STDOUT WITH (FORMAT text, DELIMITER ' ')"
  echo "# EOF"
} >"$om"
log "$(wc -l <"$om") lines; promtool tsdb create-blocks-from openmetrics"
mkdir -p "$work/prom"
# Blocks of up to 31 days, as Prometheus's own compaction leaves a month of history (it compacts
# to a tenth of the retention); 2-hour blocks would make every long read open 360 of them.
( time promtool tsdb create-blocks-from openmetrics --max-block-duration=744h "$om" "$work/prom" >/dev/null ) 2>&1 | grep real || true
rm -f "$om"
cat >"$work/prometheus.yml" <<'EOF'
global:
  scrape_interval: 1h
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prom" --storage.tsdb.retention.time=400d \
  --web.listen-address=127.0.0.1:9499 >"$work/prometheus.log" 2>&1 &
prom_pid=$!
for _ in $(seq 1 240); do curl -fsS http://127.0.0.1:9499/-/ready >/dev/null 2>&1 && break; sleep 0.5; done

log "timing the reads"
now_ms=$(psql "$DATABASE_URL" -At -c "SELECT (extract(epoch FROM max(ts)) * 1000)::int8 FROM samples s JOIN hosts h ON h.id = s.host_id WHERE h.vm_id = 'sim-000'")
LOOKOUT="http://127.0.0.1:$port" TOKEN="$token" PROM="http://127.0.0.1:9499" END_MS="$now_ms" HOSTS="$hosts" \
  node scripts/compare-reads.mjs
