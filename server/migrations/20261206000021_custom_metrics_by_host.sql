-- A host's custom metrics are read by host and time: the host page's charts (every custom metric
-- of one host over the range) and the continuous detector (the metrics hosts sent in the last
-- three hours). Without these, each read scanned every host's points or rollups in the range.
CREATE INDEX custom_metrics_host_time ON custom_metrics (host_id, ts) WHERE host_id IS NOT NULL;
CREATE INDEX custom_metric_rollups_host ON custom_metric_rollups (host_key, resolution, bucket);
