-- The capacity of an application metric: the level its series must stay below (the requests a
-- service can serve, the latency it promises), in the unit the metric is sent in, set by a
-- person for capacity planning. One value per metric name, for every host that sends it; the
-- capacity page and `GET /api/v1/performance/metrics/{name}/capacity` read it. It is a setting,
-- not data: it stays when the metric's points expire.
CREATE TABLE custom_metric_capacities (
    name       text             PRIMARY KEY,
    capacity   double precision NOT NULL CHECK (capacity > 0 AND capacity < 'Infinity'::float8),
    updated_at timestamptz      NOT NULL DEFAULT now(),
    updated_by text             NOT NULL
);
