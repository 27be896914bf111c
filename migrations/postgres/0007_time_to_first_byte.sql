-- Until now `ttft_ms` held the time to the first byte forwarded (for a chat stream, the
-- role-only chunk), not to the first token. From here on `ttfb_ms` holds that, and `ttft_ms`
-- the time to the first content token (text, tool-call or reasoning delta) of a stream. Rows
-- and hourly counters written before keep their value as what it was: a first-byte time.
ALTER TABLE request_logs ADD COLUMN ttfb_ms BIGINT;
UPDATE request_logs SET ttfb_ms = ttft_ms, ttft_ms = NULL WHERE ttft_ms IS NOT NULL;
ALTER TABLE request_stats_hourly ADD COLUMN ttfb_ms_sum BIGINT NOT NULL DEFAULT 0;
ALTER TABLE request_stats_hourly ADD COLUMN ttfb_count BIGINT NOT NULL DEFAULT 0;
UPDATE request_stats_hourly SET ttfb_ms_sum = ttft_ms_sum, ttfb_count = ttft_count, ttft_ms_sum = 0, ttft_count = 0;
