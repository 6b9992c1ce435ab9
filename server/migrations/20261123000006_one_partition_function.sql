-- Sample partitions are created by the generic lookout_ensure_partition('samples', day) (same
-- name, bounds and locking); the sample-only function it replaced is dropped.
DROP FUNCTION lookout_ensure_sample_partition(date);
