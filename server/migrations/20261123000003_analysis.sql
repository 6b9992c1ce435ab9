-- Analysis: persisted anomaly events with their acknowledge/resolve lifecycle, and timeline
-- events people add (manual notes, maintenance) or the server records (reboots).

CREATE TABLE anomalies (
    id                bigserial PRIMARY KEY,
    host_id           integer NOT NULL REFERENCES hosts (id),
    metric            text NOT NULL,       -- cpu, memory, disk, network
    series            text NOT NULL,       -- the catalogue field, e.g. usagePercent
    kind              text NOT NULL CHECK (kind IN ('spike', 'drop', 'trend_change', 'pattern_break')),
    started_at        timestamptz NOT NULL,
    ended_at          timestamptz NOT NULL, -- exclusive
    value             float8 NOT NULL,
    baseline          float8 NOT NULL,
    deviation         float8 NOT NULL,
    score             float8 NOT NULL,
    severity          text NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    related_vms       text[] NOT NULL DEFAULT '{}',
    possible_causes   text[] NOT NULL DEFAULT '{}',
    suggested_actions text[] NOT NULL DEFAULT '{}',
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'acknowledged', 'resolved')),
    acknowledged_by   text,
    acknowledged_at   timestamptz,
    resolved_by       text,
    resolved_at       timestamptz,
    resolution        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (ended_at > started_at)
);
-- An event found again (a later run, an overlapping range) is matched on host, series, kind and
-- overlapping time; this index serves that lookup and the timeline.
CREATE INDEX anomalies_host_time ON anomalies (host_id, started_at);

CREATE TABLE timeline_events (
    id          bigserial PRIMARY KEY,
    host_id     integer NOT NULL REFERENCES hosts (id),
    ts          timestamptz NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('manual', 'maintenance', 'power_change')),
    title       text NOT NULL,
    description text,
    severity    text CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    state_from  text,
    state_to    text,
    created_by  text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX timeline_events_host_ts ON timeline_events (host_id, ts);
