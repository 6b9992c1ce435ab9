#!/usr/bin/env bash
# Runs the benchmarks that produce the README's performance figures.
# Uses $DATABASE_URL when set; otherwise starts a throwaway PostgreSQL (default durability settings).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/lookout-bench.XXXXXX)
chmod 755 "$work"
trap 'set +e; stop_scratch_pg; rm -rf "$work"' EXIT
source scripts/scratch-pg.sh
cargo bench --locked -p server --bench storage
