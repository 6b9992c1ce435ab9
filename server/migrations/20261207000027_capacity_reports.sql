-- The monthly capacity reports: on the first of each month (00:00 UTC) the capacity plan of the
-- whole fleet (no group) and of each host group, as the capacity page's default view shows it as
-- of that instant, kept as a PDF for 24 months. One per month and scope: a second server that
-- makes the same report loses the insert and keeps nothing.
CREATE TABLE capacity_reports (
    id bigserial PRIMARY KEY,
    month date NOT NULL,
    group_name text,
    as_of timestamptz NOT NULL,
    hosts integer NOT NULL,
    history_days integer NOT NULL,
    horizon_days integer NOT NULL,
    threshold integer NOT NULL,
    generated_at timestamptz NOT NULL DEFAULT now(),
    pdf bytea NOT NULL
);
CREATE UNIQUE INDEX capacity_reports_month_scope
    ON capacity_reports (month, (coalesce(group_name, '')));
