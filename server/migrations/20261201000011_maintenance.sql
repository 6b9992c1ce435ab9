-- One-time maintenance steps already done on this database (e.g. the rollup count check that
-- heals buckets written before the queue fix of issue 12), so they do not run at every start.
CREATE TABLE lookout_maintenance (
    name    text PRIMARY KEY,
    done_at timestamptz NOT NULL DEFAULT now()
);
