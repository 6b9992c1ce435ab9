-- Workers take the oldest queued buckets first (ORDER BY bucket, host_id LIMIT n): an index in
-- that order lets them stop after n rows instead of sorting the whole queue, which after a large
-- backfill holds hundreds of thousands of entries.
CREATE INDEX rollup_queue_hourly_order ON rollup_queue_hourly (bucket, host_id);
CREATE INDEX rollup_queue_daily_order ON rollup_queue_daily (bucket, host_id);
