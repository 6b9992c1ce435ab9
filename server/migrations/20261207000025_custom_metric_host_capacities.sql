-- A host's own capacity of an application metric, where it differs from the metric's (a bigger
-- node serves more requests, a smaller one fewer): for that host it replaces the metric's
-- capacity of `custom_metric_capacities`. Like that one it is a setting, not data; it goes with
-- its host.
CREATE TABLE custom_metric_host_capacities (
    name       text             NOT NULL,
    host_id    integer          NOT NULL REFERENCES hosts (id) ON DELETE CASCADE,
    capacity   double precision NOT NULL CHECK (capacity > 0 AND capacity < 'Infinity'::float8),
    updated_at timestamptz      NOT NULL DEFAULT now(),
    updated_by text             NOT NULL,
    PRIMARY KEY (name, host_id)
);
