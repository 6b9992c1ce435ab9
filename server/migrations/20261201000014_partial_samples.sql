-- Partial samples (issue 15): an item needs its vmId, its timestamp and at least one metric;
-- what it does not carry is stored as NULL (absent), never invented, and every reader skips it.
ALTER TABLE samples
    ALTER COLUMN cpu_percent DROP NOT NULL, ALTER COLUMN cpu_cores DROP NOT NULL,
    ALTER COLUMN cpu_frequency_mhz DROP NOT NULL, ALTER COLUMN cpu_usage_mhz DROP NOT NULL,
    ALTER COLUMN cpu_ready_percent DROP NOT NULL, ALTER COLUMN load1 DROP NOT NULL,
    ALTER COLUMN load5 DROP NOT NULL, ALTER COLUMN load15 DROP NOT NULL,
    ALTER COLUMN mem_total DROP NOT NULL, ALTER COLUMN mem_used DROP NOT NULL,
    ALTER COLUMN mem_free DROP NOT NULL, ALTER COLUMN mem_available DROP NOT NULL,
    ALTER COLUMN mem_cached DROP NOT NULL, ALTER COLUMN mem_percent DROP NOT NULL,
    ALTER COLUMN swap_total DROP NOT NULL, ALTER COLUMN swap_used DROP NOT NULL,
    ALTER COLUMN disk_total DROP NOT NULL, ALTER COLUMN disk_used DROP NOT NULL,
    ALTER COLUMN disk_free DROP NOT NULL, ALTER COLUMN disk_percent DROP NOT NULL,
    ALTER COLUMN disk_read_bytes DROP NOT NULL, ALTER COLUMN disk_write_bytes DROP NOT NULL,
    ALTER COLUMN disk_read_bps DROP NOT NULL, ALTER COLUMN disk_write_bps DROP NOT NULL,
    ALTER COLUMN disk_read_iops DROP NOT NULL, ALTER COLUMN disk_write_iops DROP NOT NULL,
    ALTER COLUMN disk_read_latency_ms DROP NOT NULL, ALTER COLUMN disk_write_latency_ms DROP NOT NULL,
    ALTER COLUMN net_bytes_recv DROP NOT NULL, ALTER COLUMN net_bytes_sent DROP NOT NULL,
    ALTER COLUMN net_packets_recv DROP NOT NULL, ALTER COLUMN net_packets_sent DROP NOT NULL,
    ALTER COLUMN net_in_bps DROP NOT NULL, ALTER COLUMN net_out_bps DROP NOT NULL,
    ALTER COLUMN proc_total DROP NOT NULL, ALTER COLUMN proc_running DROP NOT NULL,
    ALTER COLUMN proc_sleeping DROP NOT NULL, ALTER COLUMN proc_zombie DROP NOT NULL,
    ALTER COLUMN conn_active DROP NOT NULL, ALTER COLUMN conn_listening DROP NOT NULL,
    ALTER COLUMN conn_established DROP NOT NULL, ALTER COLUMN filesystems DROP NOT NULL;
