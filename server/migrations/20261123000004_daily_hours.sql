-- Which hours of the day (bit h = hour h, UTC) a daily rollup row was built from. When a late
-- backfill reaches a day whose hourly rows have expired, the new hours are merged into the daily
-- row instead of replacing it, and hours already in it are not counted twice. 0 = not recorded
-- (rows written before this column existed).
ALTER TABLE rollup_daily ADD COLUMN hours integer NOT NULL DEFAULT 0;
