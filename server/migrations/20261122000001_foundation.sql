-- Hosts, raw samples (partitioned by day), users, sessions and API tokens.

CREATE TABLE hosts (
    id               serial PRIMARY KEY,
    vm_id            text NOT NULL UNIQUE,
    name             text NOT NULL,
    group_id         text,
    cluster_id       text,
    hostname         text,
    platform         text,
    platform_version text,
    architecture     text,
    cpu_model        text,
    cpu_cores        integer,
    memory_total     bigint,
    boot_time        timestamptz,
    first_seen       timestamptz NOT NULL DEFAULT now(),
    last_seen        timestamptz NOT NULL DEFAULT now()
);

-- One row per host per instant. Rates are float4 (7 significant digits is plenty for a gauge),
-- counters and sizes int8. The (host_id, ts) key makes re-sent samples harmless.
CREATE TABLE samples (
    host_id               integer NOT NULL REFERENCES hosts (id),
    ts                    timestamptz NOT NULL,
    cpu_percent           real NOT NULL,
    cpu_cores             smallint NOT NULL,
    cpu_frequency_mhz     integer NOT NULL,
    cpu_usage_mhz         real NOT NULL,
    cpu_ready_percent     real NOT NULL,
    load1                 real NOT NULL,
    load5                 real NOT NULL,
    load15                real NOT NULL,
    mem_total             bigint NOT NULL,
    mem_used              bigint NOT NULL,
    mem_free              bigint NOT NULL,
    mem_available         bigint NOT NULL,
    mem_cached            bigint NOT NULL,
    mem_percent           real NOT NULL,
    swap_total            bigint NOT NULL,
    swap_used             bigint NOT NULL,
    disk_total            bigint NOT NULL,
    disk_used             bigint NOT NULL,
    disk_free             bigint NOT NULL,
    disk_percent          real NOT NULL,
    disk_read_bytes       bigint NOT NULL,
    disk_write_bytes      bigint NOT NULL,
    disk_read_bps         real NOT NULL,
    disk_write_bps        real NOT NULL,
    disk_read_iops        real NOT NULL,
    disk_write_iops       real NOT NULL,
    disk_read_latency_ms  real NOT NULL,
    disk_write_latency_ms real NOT NULL,
    net_bytes_recv        bigint NOT NULL,
    net_bytes_sent        bigint NOT NULL,
    net_packets_recv      bigint NOT NULL,
    net_packets_sent      bigint NOT NULL,
    net_in_bps            real NOT NULL,
    net_out_bps           real NOT NULL,
    proc_total            integer NOT NULL,
    proc_running          integer NOT NULL,
    proc_sleeping         integer NOT NULL,
    proc_zombie           integer NOT NULL,
    conn_active           integer NOT NULL,
    conn_listening        integer NOT NULL,
    conn_established      integer NOT NULL,
    filesystems           jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (host_id, ts)
) PARTITION BY RANGE (ts);

-- Creates the UTC day partition holding `day` if it is missing; safe to call concurrently.
CREATE FUNCTION lookout_ensure_sample_partition(day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'samples_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext(part));
    EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I PARTITION OF samples FOR VALUES FROM (%L) TO (%L)',
        part,
        (day::timestamp AT TIME ZONE 'UTC'),
        ((day + 1)::timestamp AT TIME ZONE 'UTC'));
END;
$$;

CREATE TABLE users (
    id            serial PRIMARY KEY,
    username      text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    scopes        text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Only SHA-256 digests of session ids and tokens are stored: a database leak leaks no credential.
CREATE TABLE sessions (
    id_hash    bytea PRIMARY KEY,
    user_id    integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           serial PRIMARY KEY,
    name         text NOT NULL,
    token_hash   bytea NOT NULL UNIQUE,
    scopes       text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    expires_at   timestamptz
);
