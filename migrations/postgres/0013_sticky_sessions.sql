-- Sticky sessions. A log row keeps the short digest of the agent session it belonged to (never
-- the session's own name) and whether it went to the upstream that served the session last.
-- The counters keep how many requests belonged to a session and how many of them stuck, for
-- the dashboard's share of sticky hits.
ALTER TABLE request_logs ADD COLUMN session_id TEXT;
ALTER TABLE request_logs ADD COLUMN sticky BIGINT;
CREATE INDEX idx_request_logs_session ON request_logs (session_id, created_at)
    WHERE session_id IS NOT NULL;

ALTER TABLE request_stats_hourly ADD COLUMN session_requests BIGINT NOT NULL DEFAULT 0;
ALTER TABLE request_stats_hourly ADD COLUMN sticky_hits BIGINT NOT NULL DEFAULT 0;
ALTER TABLE request_stats_daily ADD COLUMN session_requests BIGINT NOT NULL DEFAULT 0;
ALTER TABLE request_stats_daily ADD COLUMN sticky_hits BIGINT NOT NULL DEFAULT 0;
