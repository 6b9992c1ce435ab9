-- Periodic work that every server on this database would otherwise repeat: the continuous
-- anomaly detector judges the whole fleet each round. A round is claimed here, so N servers
-- run it about once an interval between them, not N times; whichever claims it does it (its new
-- events reach every server's clients through the live relay).
CREATE TABLE shared_rounds (
    name       text PRIMARY KEY,
    started_at timestamptz NOT NULL
);
