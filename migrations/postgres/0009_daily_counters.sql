-- Daily counters beside the hourly ones: a window of whole UTC days reads one row per day
-- and key, upstream or model instead of 24. At ten million log rows over 30 days with a
-- thousand active keys the hourly table holds about 870,000 rows; a 30-day leaderboard read
-- them all. The log writer adds to both tables in the same transaction as the log rows;
-- the days before this migration are summed from the hourly rows.
CREATE TABLE request_stats_daily (
    day_start             BIGINT NOT NULL,
    dimension             TEXT NOT NULL CHECK (dimension IN ('key', 'upstream', 'model')),
    value                 TEXT NOT NULL,
    requests              BIGINT NOT NULL DEFAULT 0,
    successes             BIGINT NOT NULL DEFAULT 0,
    below_500             BIGINT NOT NULL DEFAULT 0,
    prompt_tokens         BIGINT NOT NULL DEFAULT 0,
    completion_tokens     BIGINT NOT NULL DEFAULT 0,
    total_tokens          BIGINT NOT NULL DEFAULT 0,
    duration_ms_sum       BIGINT NOT NULL DEFAULT 0,
    duration_count        BIGINT NOT NULL DEFAULT 0,
    ttft_ms_sum           BIGINT NOT NULL DEFAULT 0,
    ttft_count            BIGINT NOT NULL DEFAULT 0,
    ttfb_ms_sum           BIGINT NOT NULL DEFAULT 0,
    ttfb_count            BIGINT NOT NULL DEFAULT 0,
    latency_b0            BIGINT NOT NULL DEFAULT 0,
    latency_b1            BIGINT NOT NULL DEFAULT 0,
    latency_b2            BIGINT NOT NULL DEFAULT 0,
    latency_b3            BIGINT NOT NULL DEFAULT 0,
    latency_b4            BIGINT NOT NULL DEFAULT 0,
    latency_b5            BIGINT NOT NULL DEFAULT 0,
    latency_b6            BIGINT NOT NULL DEFAULT 0,
    latency_b7            BIGINT NOT NULL DEFAULT 0,
    latency_b8            BIGINT NOT NULL DEFAULT 0,
    latency_b9            BIGINT NOT NULL DEFAULT 0,
    latency_b10           BIGINT NOT NULL DEFAULT 0,
    latency_b11           BIGINT NOT NULL DEFAULT 0,
    latency_b12           BIGINT NOT NULL DEFAULT 0,
    latency_b13           BIGINT NOT NULL DEFAULT 0,
    latency_b14           BIGINT NOT NULL DEFAULT 0,
    latency_b15           BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (dimension, day_start, value)
);

INSERT INTO request_stats_daily (day_start, dimension, value, requests, successes, below_500, prompt_tokens, completion_tokens, total_tokens, duration_ms_sum, duration_count, ttft_ms_sum, ttft_count, ttfb_ms_sum, ttfb_count, latency_b0, latency_b1, latency_b2, latency_b3, latency_b4, latency_b5, latency_b6, latency_b7, latency_b8, latency_b9, latency_b10, latency_b11, latency_b12, latency_b13, latency_b14, latency_b15)
SELECT (hour_start / 86400000) * 86400000, dimension, value, SUM(requests), SUM(successes), SUM(below_500), SUM(prompt_tokens), SUM(completion_tokens), SUM(total_tokens), SUM(duration_ms_sum), SUM(duration_count), SUM(ttft_ms_sum), SUM(ttft_count), SUM(ttfb_ms_sum), SUM(ttfb_count), SUM(latency_b0), SUM(latency_b1), SUM(latency_b2), SUM(latency_b3), SUM(latency_b4), SUM(latency_b5), SUM(latency_b6), SUM(latency_b7), SUM(latency_b8), SUM(latency_b9), SUM(latency_b10), SUM(latency_b11), SUM(latency_b12), SUM(latency_b13), SUM(latency_b14), SUM(latency_b15)
FROM request_stats_hourly
GROUP BY (hour_start / 86400000) * 86400000, dimension, value;

-- A time series of local days whose midnight is not UTC's (say UTC+8) cannot use daily rows and
-- sums the hourly ones: this index holds all it reads (requests and tokens per upstream and
-- hour), in the order it reads them.
CREATE INDEX idx_request_stats_hourly_series
    ON request_stats_hourly (dimension, hour_start, value, requests, total_tokens);
