-- Five-minute averages inside each hourly bucket (12 per row, NULL where the slot had no value),
-- written by the hourly rollup from the raw samples it reads anyway: the anomaly detector judges
-- bursts shorter than an hour at this resolution while the raw tier exists.
ALTER TABLE rollup_hourly ADD COLUMN fine real[];
-- Hours of the raw window rolled up before this column existed are queued again, so the
-- worker recomputes them with their five-minute averages (readers take queued hours from the
-- raw samples meanwhile).
INSERT INTO rollup_queue_hourly (host_id, bucket)
SELECT DISTINCT host_id, bucket FROM rollup_hourly WHERE bucket >= now() - interval '8 days'
ON CONFLICT (host_id, bucket) DO NOTHING;
