-- Each monthly capacity report's runway: days from its newest complete day until the scope's
-- average CPU, memory and disk reach the threshold (NULL: not within two years, or no
-- forecast), so the next month's report can say how they moved.
ALTER TABLE capacity_reports
    ADD COLUMN cpu_days double precision,
    ADD COLUMN memory_days double precision,
    ADD COLUMN disk_days double precision;
