-- History engine: inventory indexes, hourly and daily rollups with quantile sketches, rollup queues.

CREATE INDEX hosts_group_id ON hosts (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX hosts_cluster_id ON hosts (cluster_id) WHERE cluster_id IS NOT NULL;

-- One row per host, metric and bucket. `metric` is an id from the server's metric catalogue.
-- count/sum/min/max/sumsq give avg, extremes and std exactly; `sketch` (DDSketch, 1 % relative
-- error) gives p95/p99 and merges into coarser buckets.
CREATE TABLE rollup_hourly (
    host_id integer  NOT NULL REFERENCES hosts (id),
    metric  smallint NOT NULL,
    bucket  timestamptz NOT NULL,
    count   integer  NOT NULL,
    sum     float8   NOT NULL,
    min     float8   NOT NULL,
    max     float8   NOT NULL,
    sumsq   float8   NOT NULL,
    sketch  bytea    NOT NULL,
    PRIMARY KEY (host_id, metric, bucket)
) PARTITION BY RANGE (bucket);

CREATE TABLE rollup_daily (LIKE rollup_hourly INCLUDING ALL) PARTITION BY RANGE (bucket);
ALTER TABLE rollup_daily ADD FOREIGN KEY (host_id) REFERENCES hosts (id);

-- Hours with new raw samples, waiting to be rolled up; days with new hourly rows.
-- Workers take entries with FOR UPDATE SKIP LOCKED and delete them in the same transaction as
-- the rollup rows they write, so a crash simply leaves the entry for the next run.
CREATE TABLE rollup_queue_hourly (
    host_id   integer NOT NULL REFERENCES hosts (id),
    bucket    timestamptz NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host_id, bucket)
);
CREATE TABLE rollup_queue_daily (
    host_id   integer NOT NULL REFERENCES hosts (id),
    bucket    timestamptz NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host_id, bucket)
);

-- Creates the partition of `parent` holding `day` (UTC): daily partitions for samples and hourly
-- rollups, monthly ones for daily rollups. Safe to call concurrently.
CREATE FUNCTION lookout_ensure_partition(parent text, day date) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    monthly boolean := parent = 'rollup_daily';
    first date := CASE WHEN monthly THEN date_trunc('month', day)::date ELSE day END;
    next date := CASE WHEN monthly THEN (date_trunc('month', day) + interval '1 month')::date ELSE day + 1 END;
    part text := parent || '_' || to_char(first, CASE WHEN monthly THEN 'YYYYMM' ELSE 'YYYYMMDD' END);
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext(part));
    EXECUTE format(
        'CREATE TABLE IF NOT EXISTS %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
        part, parent,
        (first::timestamp AT TIME ZONE 'UTC'),
        (next::timestamp AT TIME ZONE 'UTC'));
END;
$$;
