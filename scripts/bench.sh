#!/usr/bin/env bash
# Runs the benchmarks that produce the README's performance figures.
# Uses $DATABASE_URL when set; otherwise starts a throwaway PostgreSQL (default durability settings).
# Usage: scripts/bench.sh [storage|history|forecast|anomalies|export|detector|all]
#   history: BENCH_HOSTS, BENCH_DAYS, BENCH_INTERVAL, BENCH_FINE_DAYS; forecast: BENCH_HOSTS, BENCH_DAYS
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
work=$(mktemp -d /tmp/lookout-bench.XXXXXX)
chmod 755 "$work"
trap 'set +e; stop_scratch_pg; rm -rf "$work"' EXIT
source scripts/scratch-pg.sh
if [ "$which" = storage ] || [ "$which" = all ]; then cargo bench --locked -p server --bench storage; fi
if [ "$which" = history ] || [ "$which" = all ]; then cargo bench --locked -p server --bench history; fi
if [ "$which" = forecast ] || [ "$which" = all ]; then cargo bench --locked -p server --bench forecast; fi
if [ "$which" = anomalies ] || [ "$which" = all ]; then cargo bench --locked -p server --bench anomalies; fi
if [ "$which" = export ] || [ "$which" = all ]; then cargo bench --locked -p server --bench export; fi
if [ "$which" = detector ] || [ "$which" = all ]; then cargo bench --locked -p server --bench detector; fi
