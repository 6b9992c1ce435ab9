-- Kept anomaly judgements (server/src/storage/judgements.rs): per host, tier (0 five-minute
-- buckets, 1 hours) and UTC day, the events found at every sensitivity and the points judged, so
-- that a request judges only the days without one. A cache: losing a row costs only its judging
-- again.
CREATE TABLE anomaly_judgements (
    host_id   integer     NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    tier      smallint    NOT NULL CHECK (tier IN (0, 1)),
    day       timestamptz NOT NULL,
    version   smallint    NOT NULL,
    judged_at timestamptz NOT NULL,
    complete  boolean     NOT NULL,
    coverage  bytea       NOT NULL,
    events    bytea       NOT NULL,
    PRIMARY KEY (host_id, tier, day)
);

-- A sample written for an hour a kept judgement covered (its hour queued for the rollup again:
-- a late sample, a backfill, an agent's spool) makes that judgement and every later one of the
-- host stale: the later days' baselines learnt from the data before them. One statement per
-- insert, however many hours it queues.
CREATE FUNCTION anomaly_judgements_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM anomaly_judgements j
    USING (SELECT host_id, min(bucket) AS first_hour FROM queued GROUP BY host_id) n
    WHERE j.host_id = n.host_id AND j.day + interval '1 day' > n.first_hour AND j.judged_at > n.first_hour;
    RETURN NULL;
END $$;

CREATE TRIGGER anomaly_judgements_forget AFTER INSERT ON rollup_queue_hourly
    REFERENCING NEW TABLE AS queued FOR EACH STATEMENT EXECUTE FUNCTION anomaly_judgements_forget();
