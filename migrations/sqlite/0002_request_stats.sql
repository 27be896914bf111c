-- Hourly request statistics, kept up to date by the log writer in the same transaction as the
-- rows it inserts, so the dashboard reads a few thousand rows instead of scanning request_logs.
-- Every request is counted once per dimension: under its key, its upstream and its requested
-- model (value '' when it had none), so summing one dimension gives the totals.
-- latency_bN counts requests whose duration_ms fell in bucket N; the upper bounds in ms are
-- 25, 50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 30000, 60000, then above
-- (src/server/db/request_stats.rs holds the same list).
CREATE TABLE request_stats_hourly (
    hour_start            INTEGER NOT NULL,
    dimension             TEXT NOT NULL CHECK (dimension IN ('key', 'upstream', 'model')),
    value                 TEXT NOT NULL,
    requests              INTEGER NOT NULL DEFAULT 0,
    successes             INTEGER NOT NULL DEFAULT 0,
    prompt_tokens         INTEGER NOT NULL DEFAULT 0,
    completion_tokens     INTEGER NOT NULL DEFAULT 0,
    total_tokens          INTEGER NOT NULL DEFAULT 0,
    duration_ms_sum       INTEGER NOT NULL DEFAULT 0,
    duration_count        INTEGER NOT NULL DEFAULT 0,
    ttft_ms_sum           INTEGER NOT NULL DEFAULT 0,
    ttft_count            INTEGER NOT NULL DEFAULT 0,
    latency_b0            INTEGER NOT NULL DEFAULT 0,
    latency_b1            INTEGER NOT NULL DEFAULT 0,
    latency_b2            INTEGER NOT NULL DEFAULT 0,
    latency_b3            INTEGER NOT NULL DEFAULT 0,
    latency_b4            INTEGER NOT NULL DEFAULT 0,
    latency_b5            INTEGER NOT NULL DEFAULT 0,
    latency_b6            INTEGER NOT NULL DEFAULT 0,
    latency_b7            INTEGER NOT NULL DEFAULT 0,
    latency_b8            INTEGER NOT NULL DEFAULT 0,
    latency_b9            INTEGER NOT NULL DEFAULT 0,
    latency_b10           INTEGER NOT NULL DEFAULT 0,
    latency_b11           INTEGER NOT NULL DEFAULT 0,
    latency_b12           INTEGER NOT NULL DEFAULT 0,
    latency_b13           INTEGER NOT NULL DEFAULT 0,
    latency_b14           INTEGER NOT NULL DEFAULT 0,
    latency_b15           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hour_start, dimension, value)
);

-- Rows logged before this table existed.
INSERT INTO request_stats_hourly (hour_start, dimension, value, requests, successes, prompt_tokens, completion_tokens, total_tokens, duration_ms_sum, duration_count, ttft_ms_sum, ttft_count, latency_b0, latency_b1, latency_b2, latency_b3, latency_b4, latency_b5, latency_b6, latency_b7, latency_b8, latency_b9, latency_b10, latency_b11, latency_b12, latency_b13, latency_b14, latency_b15)
SELECT
    (created_at / 3600000) * 3600000,
    'key',
    COALESCE(api_key_id, ''),
    COUNT(*),
    SUM(CASE WHEN status_code >= 200 AND status_code < 400 THEN 1 ELSE 0 END),
    SUM(prompt_tokens),
    SUM(completion_tokens),
    SUM(total_tokens),
    COALESCE(SUM(duration_ms), 0),
    COUNT(duration_ms),
    COALESCE(SUM(ttft_ms), 0),
    COUNT(ttft_ms),
    SUM(CASE WHEN duration_ms <= 25 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 25 AND duration_ms <= 50 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 50 AND duration_ms <= 100 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 100 AND duration_ms <= 200 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 200 AND duration_ms <= 300 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 300 AND duration_ms <= 500 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 500 AND duration_ms <= 750 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 750 AND duration_ms <= 1000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 1000 AND duration_ms <= 1500 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 1500 AND duration_ms <= 2000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 2000 AND duration_ms <= 3000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 3000 AND duration_ms <= 5000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 5000 AND duration_ms <= 10000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 10000 AND duration_ms <= 30000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 30000 AND duration_ms <= 60000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 60000 THEN 1 ELSE 0 END)
FROM request_logs
GROUP BY (created_at / 3600000) * 3600000, COALESCE(api_key_id, '');

INSERT INTO request_stats_hourly (hour_start, dimension, value, requests, successes, prompt_tokens, completion_tokens, total_tokens, duration_ms_sum, duration_count, ttft_ms_sum, ttft_count, latency_b0, latency_b1, latency_b2, latency_b3, latency_b4, latency_b5, latency_b6, latency_b7, latency_b8, latency_b9, latency_b10, latency_b11, latency_b12, latency_b13, latency_b14, latency_b15)
SELECT
    (created_at / 3600000) * 3600000,
    'upstream',
    COALESCE(upstream_id, ''),
    COUNT(*),
    SUM(CASE WHEN status_code >= 200 AND status_code < 400 THEN 1 ELSE 0 END),
    SUM(prompt_tokens),
    SUM(completion_tokens),
    SUM(total_tokens),
    COALESCE(SUM(duration_ms), 0),
    COUNT(duration_ms),
    COALESCE(SUM(ttft_ms), 0),
    COUNT(ttft_ms),
    SUM(CASE WHEN duration_ms <= 25 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 25 AND duration_ms <= 50 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 50 AND duration_ms <= 100 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 100 AND duration_ms <= 200 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 200 AND duration_ms <= 300 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 300 AND duration_ms <= 500 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 500 AND duration_ms <= 750 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 750 AND duration_ms <= 1000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 1000 AND duration_ms <= 1500 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 1500 AND duration_ms <= 2000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 2000 AND duration_ms <= 3000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 3000 AND duration_ms <= 5000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 5000 AND duration_ms <= 10000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 10000 AND duration_ms <= 30000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 30000 AND duration_ms <= 60000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 60000 THEN 1 ELSE 0 END)
FROM request_logs
GROUP BY (created_at / 3600000) * 3600000, COALESCE(upstream_id, '');

INSERT INTO request_stats_hourly (hour_start, dimension, value, requests, successes, prompt_tokens, completion_tokens, total_tokens, duration_ms_sum, duration_count, ttft_ms_sum, ttft_count, latency_b0, latency_b1, latency_b2, latency_b3, latency_b4, latency_b5, latency_b6, latency_b7, latency_b8, latency_b9, latency_b10, latency_b11, latency_b12, latency_b13, latency_b14, latency_b15)
SELECT
    (created_at / 3600000) * 3600000,
    'model',
    COALESCE(model_requested, ''),
    COUNT(*),
    SUM(CASE WHEN status_code >= 200 AND status_code < 400 THEN 1 ELSE 0 END),
    SUM(prompt_tokens),
    SUM(completion_tokens),
    SUM(total_tokens),
    COALESCE(SUM(duration_ms), 0),
    COUNT(duration_ms),
    COALESCE(SUM(ttft_ms), 0),
    COUNT(ttft_ms),
    SUM(CASE WHEN duration_ms <= 25 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 25 AND duration_ms <= 50 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 50 AND duration_ms <= 100 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 100 AND duration_ms <= 200 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 200 AND duration_ms <= 300 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 300 AND duration_ms <= 500 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 500 AND duration_ms <= 750 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 750 AND duration_ms <= 1000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 1000 AND duration_ms <= 1500 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 1500 AND duration_ms <= 2000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 2000 AND duration_ms <= 3000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 3000 AND duration_ms <= 5000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 5000 AND duration_ms <= 10000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 10000 AND duration_ms <= 30000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 30000 AND duration_ms <= 60000 THEN 1 ELSE 0 END),
    SUM(CASE WHEN duration_ms > 60000 THEN 1 ELSE 0 END)
FROM request_logs
GROUP BY (created_at / 3600000) * 3600000, COALESCE(model_requested, '');
