-- Containers (cgroup v2) and NVIDIA GPUs of a sample (issue 14): JSON lists kept with the raw
-- samples, like file systems; NULL when the host has none.
ALTER TABLE samples ADD COLUMN containers jsonb, ADD COLUMN gpus jsonb;
