-- Alerting: rules, the alerts they raise (at most one active per rule and host), and the webhook
-- deliveries they queue. Custom metric points with hourly/daily rollups kept at ingest.

CREATE TABLE alert_rules (
    id             bigserial PRIMARY KEY,
    name           text NOT NULL UNIQUE,
    metric         text NOT NULL,
    operator       text NOT NULL CHECK (operator IN ('greater_than', 'less_than', 'greater_or_equal', 'less_or_equal', 'equal', 'not_equal')),
    threshold      float8 NOT NULL,
    level          text NOT NULL CHECK (level IN ('info', 'warning', 'critical')),
    description    text NOT NULL DEFAULT '',
    enabled        boolean NOT NULL DEFAULT true,
    actions        text[] NOT NULL DEFAULT '{log}',
    webhook_url    text,
    webhook_secret text,
    cooldown_secs  integer NOT NULL DEFAULT 300 CHECK (cooldown_secs >= 0),
    for_secs       integer NOT NULL DEFAULT 0 CHECK (for_secs >= 0),
    recovery_secs  integer NOT NULL DEFAULT 0 CHECK (recovery_secs >= 0),
    host_id        integer REFERENCES hosts (id) ON DELETE CASCADE,
    group_id       text,
    trigger_count  bigint NOT NULL DEFAULT 0,
    last_triggered timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (host_id IS NULL OR group_id IS NULL),
    CHECK (('webhook' = ANY (actions)) = (webhook_url IS NOT NULL))
);

-- The defaults a new install starts with (editable and deletable like any other rule).
INSERT INTO alert_rules (name, metric, operator, threshold, level, description) VALUES
    ('high_cpu_usage', 'cpu_percent', 'greater_than', 80, 'warning', 'CPU usage above 80 %'),
    ('high_memory_usage', 'memory_percent', 'greater_than', 90, 'critical', 'Memory usage above 90 %'),
    ('disk_almost_full', 'disk_usage_percent', 'greater_than', 90, 'critical', 'Disk usage above 90 %');

CREATE TABLE alerts (
    id               bigserial PRIMARY KEY,
    rule_id          bigint REFERENCES alert_rules (id) ON DELETE SET NULL,
    host_id          integer REFERENCES hosts (id) ON DELETE CASCADE, -- NULL: a custom metric sent without a host
    metric           text NOT NULL,
    kind             text NOT NULL,        -- cpu, memory, disk, network, system, custom
    level            text NOT NULL,
    title            text NOT NULL,
    message          text NOT NULL,
    value            float8 NOT NULL,
    threshold        float8 NOT NULL,
    status           text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'resolved')),
    metadata         jsonb NOT NULL DEFAULT '{}',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    triggered_at     timestamptz NOT NULL, -- the sample time the condition fired at
    notified_at      timestamptz NOT NULL, -- the last notification (cooldown is measured from it)
    resolved_at      timestamptz,
    resolution       text,
    resolved_by      text
);
-- One active alert per (rule, host), also across several server instances.
CREATE UNIQUE INDEX alerts_one_active ON alerts (rule_id, coalesce(host_id, 0)) WHERE status = 'active';
CREATE INDEX alerts_created ON alerts (created_at DESC);
CREATE INDEX alerts_host_time ON alerts (host_id, triggered_at);

CREATE TABLE webhook_deliveries (
    id              bigserial PRIMARY KEY,
    alert_id        bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    event           text NOT NULL CHECK (event IN ('alert_triggered', 'alert_resolved')),
    url             text NOT NULL,
    secret          text NOT NULL,
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    response_status integer,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

CREATE TABLE custom_metrics (
    id       bigserial PRIMARY KEY,
    name     text NOT NULL,
    ts       timestamptz NOT NULL,
    value    float8 NOT NULL,
    unit     text NOT NULL DEFAULT '',
    category text NOT NULL DEFAULT '',
    tags     jsonb NOT NULL DEFAULT '{}',
    host_id  integer REFERENCES hosts (id) ON DELETE CASCADE
);
CREATE INDEX custom_metrics_name_time ON custom_metrics (name, ts);
CREATE INDEX custom_metrics_tags ON custom_metrics USING gin (tags jsonb_path_ops);
CREATE INDEX custom_metrics_time ON custom_metrics (ts);

-- Per series (name, host, tag set) and bucket: what a rollup of samples keeps, minus the sketch.
CREATE TABLE custom_metric_rollups (
    name       text NOT NULL,
    resolution text NOT NULL CHECK (resolution IN ('hour', 'day')),
    host_key   integer NOT NULL, -- host id, 0 without a host
    tags       jsonb NOT NULL,
    bucket     timestamptz NOT NULL,
    count      bigint NOT NULL,
    sum        float8 NOT NULL,
    sum_sq     float8 NOT NULL,
    min        float8 NOT NULL,
    max        float8 NOT NULL,
    PRIMARY KEY (name, resolution, host_key, tags, bucket)
);
CREATE INDEX custom_metric_rollups_bucket ON custom_metric_rollups (resolution, bucket);
