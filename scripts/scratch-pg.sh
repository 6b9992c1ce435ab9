# Sourced by test.sh and bench.sh: starts a throwaway PostgreSQL (Unix socket only) in "$work/pg"
# unless DATABASE_URL is already set, and exports DATABASE_URL. Expects $work (mode 755) to exist.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_scratch_pg() {
  if [ -f "$work/pg/postmaster.pid" ]; then as_pg "$pg_bin/pg_ctl" -D "$work/pg" -m immediate -w stop >/dev/null; fi
}
if [ -z "${DATABASE_URL:-}" ]; then
  mkdir -p "$work/pg"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$work/pg"; fi
  as_pg "$pg_bin/initdb" -D "$work/pg" -U app --auth=trust -E UTF8 --no-locale >/dev/null
  # ${SCRATCH_PG_OPTS} lets the test run trade durability for speed.
  as_pg "$pg_bin/pg_ctl" -D "$work/pg" -l "$work/pg/server.log" -w \
    -o "-c listen_addresses='' -k $work/pg -c max_connections=300 ${SCRATCH_PG_OPTS:-}" start >/dev/null
  export DATABASE_URL="postgres:///postgres?host=$work/pg&user=app"
fi
