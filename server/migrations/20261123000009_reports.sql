-- Performance reports: generated in the background like exports (leased, redone after a crash),
-- kept 7 days.
CREATE TABLE reports (
    id            text PRIMARY KEY,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
    spec          jsonb NOT NULL,
    format        text NOT NULL CHECK (format IN ('json', 'csv', 'pdf')),
    filename      text NOT NULL,
    file_path     text,
    file_size     bigint,
    error_message text,
    attempts      integer NOT NULL DEFAULT 0,
    lease_until   timestamptz,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    estimated_ready_at timestamptz NOT NULL,
    started_at    timestamptz,
    completed_at  timestamptz,
    expires_at    timestamptz
);
CREATE INDEX reports_queue ON reports (created_at) WHERE status IN ('pending', 'processing');
CREATE INDEX reports_expiry ON reports (expires_at) WHERE expires_at IS NOT NULL;
