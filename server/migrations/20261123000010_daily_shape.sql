-- The average of each hour (UTC) of a daily rollup row, NULL where the hour had no data. Anomaly
-- detection reads a host's hourly shape from here, one row per day instead of 24 hourly rows,
-- and it outlives the hourly tier's 30-day retention, so the same-hour-of-week baseline keeps
-- its three weeks of history for the oldest days one may ask about.
ALTER TABLE rollup_daily ADD COLUMN hourly_avg real[];

-- Days that still have hourly rows are recomputed by the rollup worker, which fills the column.
INSERT INTO rollup_queue_daily (host_id, bucket)
SELECT DISTINCT host_id, date_bin('1 day', bucket, timestamptz 'epoch') FROM rollup_hourly
ON CONFLICT DO NOTHING;
