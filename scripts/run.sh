#!/usr/bin/env bash
# Installs what is missing, builds Lookout in release and starts it on http://127.0.0.1:3000.
# Without DATABASE_URL it runs its own PostgreSQL in $LOOKOUT_DATA_DIR/postgres (default ./data).
# Extra arguments go to `lookout serve`, e.g. `scripts/run.sh --sample-interval 1`.
set -euo pipefail
cd "$(dirname "$0")/.."
# The browser is only needed for the end-to-end tests.
LOOKOUT_SETUP_BROWSER="${LOOKOUT_SETUP_BROWSER:-0}" scripts/setup.sh
PATH="$PWD/end2end/node_modules/.bin:$PATH" cargo leptos build --release --precompress
export LOOKOUT_SITE_ROOT="${LOOKOUT_SITE_ROOT:-$PWD/target/site}"
exec target/release/lookout serve "$@"
