-- Agents (issue 14): enrolment tokens with a use count, per-host tokens bound to their host,
-- revocation; each host's machine key, clock skew and silence; each sample's top processes.
ALTER TABLE api_tokens ADD COLUMN uses_left integer CHECK (uses_left IS NULL OR uses_left >= 0);
ALTER TABLE api_tokens ADD COLUMN host_id integer REFERENCES hosts (id) ON DELETE CASCADE;
ALTER TABLE api_tokens ADD COLUMN revoked_at timestamptz;
COMMENT ON COLUMN api_tokens.uses_left IS 'enrolment tokens: enrolments left; NULL = not counted';
COMMENT ON COLUMN api_tokens.host_id IS 'per-host tokens: may write samples of this host only';

-- SHA-256 of the machine id and the agent's UUID the host enrolled with; NULL = not enrolled
-- (or re-assigned by an admin, so the next enrolment binds it anew).
ALTER TABLE hosts ADD COLUMN machine_key text;
-- Server receipt time minus the agent's send time of its last batch, milliseconds.
ALTER TABLE hosts ADD COLUMN clock_skew_ms integer;
ALTER TABLE hosts ADD COLUMN clock_skew_at timestamptz;
-- Set when the host stopped reporting (for the went-silent / came-back events).
ALTER TABLE hosts ADD COLUMN silent_since timestamptz;
ALTER TABLE hosts ADD COLUMN agent_version text;

-- The union of the top 5 processes by CPU and by memory at the sample (agents send them),
-- kept with the raw tier (7 days).
ALTER TABLE samples ADD COLUMN top_processes jsonb;
