-- A host's custom-metric points that arrive for hours the live detection rounds no longer look at
-- (older than their last three hours: a backfill, an agent's spool, an import) are judged by the
-- detector's catch-up. Custom metrics have no kept judgements to tell which days were judged, so
-- the write says it: each (host, metric, day) waits here until a round has judged it. A write
-- into a day already waiting sets `queued_at` again, and a round removes only the rows whose
-- `queued_at` it read: a day written to while it was being judged is judged again, and no round
-- holds locks that a write would wait for.
CREATE TABLE custom_metric_unjudged (
    host_id   integer     NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    name      text        NOT NULL,
    day       timestamptz NOT NULL,
    queued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (host_id, name, day)
);
