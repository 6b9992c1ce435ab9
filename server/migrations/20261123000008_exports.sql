-- Export jobs: persisted so a restart resumes them; a claimed job is leased, and a job whose
-- lease ran out (its server died) is claimed again and redone from the start.
CREATE TABLE export_jobs (
    id            text PRIMARY KEY,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    spec          jsonb NOT NULL,
    format        text NOT NULL CHECK (format IN ('csv', 'excel', 'json')),
    filename      text NOT NULL,
    vm_count      integer NOT NULL,
    start_time    timestamptz NOT NULL,
    end_time      timestamptz NOT NULL,
    aggregation   text NOT NULL,
    total         bigint NOT NULL,
    processed     bigint NOT NULL DEFAULT 0,
    file_path     text,
    file_size     bigint,
    record_count  bigint,
    error_code    text,
    error_message text,
    attempts      integer NOT NULL DEFAULT 0,
    lease_until   timestamptz,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    completed_at  timestamptz,
    expires_at    timestamptz
);
CREATE INDEX export_jobs_queue ON export_jobs (created_at) WHERE status IN ('pending', 'processing');
CREATE INDEX export_jobs_expiry ON export_jobs (expires_at) WHERE expires_at IS NOT NULL;
