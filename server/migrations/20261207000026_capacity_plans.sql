-- Planned changes committed from the what-if page or API: a group's (or, with no group, the
-- whole fleet's) hosts added or taken away from a day, load added from a day, extra growth a
-- month. The runway and every what-if of the same scope include them until they are removed.
CREATE TABLE capacity_plans (
    id bigserial PRIMARY KEY,
    group_name text,
    title text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    add_hosts integer NOT NULL DEFAULT 0,
    hosts_from timestamptz,
    add_load_percent double precision NOT NULL DEFAULT 0,
    load_from timestamptz,
    growth_monthly_percent double precision NOT NULL DEFAULT 0,
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX capacity_plans_group ON capacity_plans (group_name);
