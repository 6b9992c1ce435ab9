#!/usr/bin/env bash
# Builds target/debian/lookout_<version>_<arch>.deb: the release binary (server and agent), the
# built front end in /usr/share/lookout/site, and the systemd units lookout.service and
# lookout-agent.service (installed, not enabled). Installs cargo-deb when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
LOOKOUT_SETUP_BROWSER=0 scripts/setup.sh
if ! cargo deb --version >/dev/null 2>&1; then
  printf '\033[1m[package]\033[0m cargo install cargo-deb (~3 min)\n'
  cargo install cargo-deb --locked
fi
PATH="$PWD/end2end/node_modules/.bin:$PATH" cargo leptos build --release --precompress
cargo deb -p server --no-build -o target/debian/
ls -1 target/debian/*.deb
