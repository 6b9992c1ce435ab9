#!/usr/bin/env bash
# Installs what building, running and testing Lookout needs on a fresh Debian machine.
# Idempotent: every step checks first and skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else "$@"; fi; }

need_apt=()
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
[ -n "$pg_bin" ] && [ -x "$pg_bin/initdb" ] || need_apt+=(postgresql)
command -v psql >/dev/null || need_apt+=(postgresql-client)
# Node.js/npm provide wasm-opt (npm binaryen) for release builds and Playwright for browser tests.
command -v node >/dev/null && command -v npm >/dev/null || need_apt+=(nodejs npm)
if [ "${LOOKOUT_SETUP_BROWSER:-1}" = 1 ]; then
  [ -x /usr/bin/chromium ] || need_apt+=(chromium)
fi
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v curl >/dev/null || need_apt+=(curl)
# Report tests read generated PDFs back (pdftotext) and keep a PNG of the first page (pdftoppm).
command -v pdftotext >/dev/null && command -v pdftoppm >/dev/null || need_apt+=(poppler-utils)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "apt-get install ${need_apt[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  log "rustup target add wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must match the wasm-bindgen crate pinned in Cargo.toml exactly.
WB_VERSION=0.2.130
if ! wasm-bindgen --version 2>/dev/null | grep -q " $WB_VERSION"; then
  log "cargo install wasm-bindgen-cli $WB_VERSION (~3 min)"
  # Not --locked: its lockfile pins a webpki-roots version the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --force
fi

# 0.3.5 is the newest cargo-leptos that builds on rustc 1.95; no_downloads keeps it offline.
if ! cargo leptos --version 2>/dev/null | grep -q ' 0.3.5'; then
  log "cargo install cargo-leptos 0.3.5 (~11 min on 2 cores)"
  cargo install cargo-leptos --version 0.3.5 --locked --features no_downloads --force
fi

# Playwright driver, wasm-opt (binaryen 132 from npm: Debian's binaryen 108 breaks hydration) and uPlot.
if [ ! -x end2end/node_modules/.bin/wasm-opt ] || [ ! -f end2end/node_modules/uplot/package.json ] || [ end2end/package-lock.json -nt end2end/node_modules/.package-lock.json ]; then
  log "npm ci in end2end/"
  (cd end2end && npm ci --no-audit --no-fund --loglevel=error)
fi
# uPlot (browser charts) comes from the same lock file and is served from the site's assets.
if ! cmp -s end2end/node_modules/uplot/dist/uPlot.iife.min.js public/vendor/uplot/uPlot.iife.min.js 2>/dev/null; then
  log "uPlot → public/vendor/uplot"
  mkdir -p public/vendor/uplot
  cp end2end/node_modules/uplot/dist/uPlot.iife.min.js end2end/node_modules/uplot/dist/uPlot.min.css public/vendor/uplot/
  cp end2end/node_modules/uplot/LICENSE public/vendor/uplot/LICENSE 2>/dev/null || true
fi
log "toolchain ready"
