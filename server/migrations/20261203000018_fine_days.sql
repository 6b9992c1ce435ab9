-- Five-minute averages of whole days (288 per row, NULL where a slot had no value), written by the
-- daily rollup from its hours' `fine` arrays once the day has ended: the anomaly detector reads
-- a settled day in one row instead of 24 hourly ones. A copy kept as long as its source (the
-- hourly tier), so partitioned by day and dropped by retention like the hourly rollups.
CREATE TABLE rollup_fine_daily (
    host_id integer  NOT NULL REFERENCES hosts (id),
    metric  smallint NOT NULL,
    bucket  timestamptz NOT NULL,
    fine    real[]   NOT NULL,
    PRIMARY KEY (host_id, metric, bucket)
) PARTITION BY RANGE (bucket);
-- Ended days of the hourly tier's window are queued again so the worker writes their rows
-- (readers take the hourly rows of any day without one meanwhile).
INSERT INTO rollup_queue_daily (host_id, bucket)
SELECT DISTINCT host_id, date_bin('1 day', bucket, timestamptz 'epoch') FROM rollup_hourly
WHERE fine IS NOT NULL AND bucket < date_bin('1 day', now(), timestamptz 'epoch')
  AND bucket >= date_bin('1 day', now(), timestamptz 'epoch') - interval '30 days'
ON CONFLICT (host_id, bucket) DO NOTHING;
