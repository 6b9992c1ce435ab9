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
    -- Day before tier: forgetting a host's days from a time on is one range of the index.
    PRIMARY KEY (host_id, day, tier)
);

-- Samples written for a time a kept judgement covered (a late sample, an agent's spool, a
-- backfill) make that judgement and every later one of the host stale: the later days' baselines
-- learnt from the data before them. The judgement of a day still going on is spared samples
-- under two minutes older than it (those in flight while it ran): the continuous detector judges
-- that day again every round anyway. One statement per insert or COPY, however many rows.
CREATE FUNCTION anomaly_judgements_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM anomaly_judgements j
    USING (SELECT host_id, min(ts) AS first_ts FROM written GROUP BY host_id) n
    WHERE j.host_id = n.host_id AND j.day > n.first_ts - interval '1 day'
      AND (j.judged_at > n.first_ts + interval '2 minutes' OR (j.complete AND j.judged_at > n.first_ts));
    RETURN NULL;
END $$;

CREATE TRIGGER anomaly_judgements_forget AFTER INSERT ON samples
    REFERENCING NEW TABLE AS written FOR EACH STATEMENT EXECUTE FUNCTION anomaly_judgements_forget();
