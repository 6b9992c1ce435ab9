-- A judgement is made from what was stored when it began and kept when it ends. A backfill that
-- commits in between found nothing to forget (the judgement was not written yet), so the writer
-- must learn of it: per host, a count of the writes of samples older than two minutes (a late
-- sample, an agent's spool, a backfill; live samples are not counted, so a host sending every
-- few seconds does not stop its judgements from being kept). The writer reads the count before
-- it reads the data and keeps a host's judgements only if the count is the same when it writes,
-- holding the host's row (FOR SHARE) so that a backfill still in flight is waited for.
CREATE TABLE sample_backfills (
    host_id    integer PRIMARY KEY REFERENCES hosts (id) ON DELETE CASCADE,
    generation bigint  NOT NULL
);

-- The count first, in host order (one lock order for every writer), then the forgetting: a
-- backfill that waits for a writer holding the row forgets, once that writer has committed, what
-- it kept (each statement here takes a new snapshot).
CREATE OR REPLACE FUNCTION anomaly_judgements_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sample_backfills AS b (host_id, generation)
    SELECT host_id, 1 FROM written GROUP BY host_id HAVING min(ts) < now() - interval '2 minutes'
    ORDER BY host_id
    ON CONFLICT (host_id) DO UPDATE SET generation = b.generation + 1;
    DELETE FROM anomaly_judgements j
    USING (SELECT host_id, min(ts) AS first_ts FROM written GROUP BY host_id) n
    WHERE j.host_id = n.host_id AND j.day > n.first_ts - interval '1 day'
      AND (j.judged_at > n.first_ts + interval '2 minutes' OR (j.complete AND j.judged_at > n.first_ts));
    RETURN NULL;
END $$;
