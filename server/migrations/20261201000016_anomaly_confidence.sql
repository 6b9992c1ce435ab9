-- Anomalies judged against a short baseline (a host's first days) carry lowered confidence.
ALTER TABLE anomalies ADD COLUMN confidence text NOT NULL DEFAULT 'normal'
    CHECK (confidence IN ('normal', 'low'));
