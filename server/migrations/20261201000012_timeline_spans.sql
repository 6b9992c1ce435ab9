-- Notes and maintenance windows may span time (a selection on a chart, a planned window).
ALTER TABLE timeline_events ADD COLUMN ends_at timestamptz;
ALTER TABLE timeline_events ADD CONSTRAINT timeline_events_span CHECK (ends_at IS NULL OR ends_at >= ts);
