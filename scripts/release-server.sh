# Sourced by the measurement scripts after scratch-pg.sh: starts the release build against
# $DATABASE_URL on 127.0.0.1:$1 (its data under "$work/data", its log appended to
# "$work/server.log", no per-client rate limit: the measurements come from one address), sets
# $server_pid and waits until /healthz answers. Further LOOKOUT_* settings go in the environment of
# the call: `LOOKOUT_BOOTSTRAP_TOKEN=… start_release_server 3977`. Expects $work and $root_dir.
server_pid=""
start_release_server() {
  local port=$1
  LOOKOUT_LISTEN="127.0.0.1:$port" LOOKOUT_RATE_LIMIT=0 LOOKOUT_SITE_ROOT="$root_dir/target/site" \
    LOOKOUT_DATA_DIR="$work/data" "$root_dir/target/release/lookout" serve >>"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 120); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.5
  done
  echo "the server on :$port did not start; its log:" >&2
  tail -n 20 "$work/server.log" >&2
  return 1
}
# Stops it (SIGTERM, then waits for the graceful shutdown); a no-op when none runs.
stop_release_server() {
  if [ -n "$server_pid" ]; then
    kill -TERM "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=""
  fi
  return 0
}
