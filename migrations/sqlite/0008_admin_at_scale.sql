-- The admin at ten million log rows: what it reads must not grow with traffic.
--
-- The upstream health window reads availability from the hourly counters, which so far counted
-- 2xx/3xx answers only; availability counts every answer below 500 (a 4xx is the caller's
-- fault, not the upstream's). Hourly rows written before count them from the logs they hold,
-- one grouped pass over the logs per dimension.
ALTER TABLE request_stats_hourly ADD COLUMN below_500 INTEGER NOT NULL DEFAULT 0;

UPDATE request_stats_hourly SET below_500 = c.n
FROM (
    SELECT (created_at / 3600000) * 3600000 AS h, COALESCE(api_key_id, '') AS v, COUNT(*) AS n
    FROM request_logs WHERE status_code < 500
    GROUP BY (created_at / 3600000) * 3600000, COALESCE(api_key_id, '')
) AS c
WHERE request_stats_hourly.dimension = 'key'
  AND request_stats_hourly.hour_start = c.h
  AND request_stats_hourly.value = c.v;

UPDATE request_stats_hourly SET below_500 = c.n
FROM (
    SELECT (created_at / 3600000) * 3600000 AS h, COALESCE(upstream_id, '') AS v, COUNT(*) AS n
    FROM request_logs WHERE status_code < 500
    GROUP BY (created_at / 3600000) * 3600000, COALESCE(upstream_id, '')
) AS c
WHERE request_stats_hourly.dimension = 'upstream'
  AND request_stats_hourly.hour_start = c.h
  AND request_stats_hourly.value = c.v;

UPDATE request_stats_hourly SET below_500 = c.n
FROM (
    SELECT (created_at / 3600000) * 3600000 AS h, COALESCE(model_requested, '') AS v, COUNT(*) AS n
    FROM request_logs WHERE status_code < 500
    GROUP BY (created_at / 3600000) * 3600000, COALESCE(model_requested, '')
) AS c
WHERE request_stats_hourly.dimension = 'model'
  AND request_stats_hourly.hour_start = c.h
  AND request_stats_hourly.value = c.v;

-- The log list filtered by an error status (4xx, 5xx, 429, ...) walks only the error rows,
-- newest first, and reads each one's status from the index itself (no row lookup to count
-- them); with a key, an upstream or a model as well, it walks only that one's error rows.
-- Rows below 400, most of them, never enter these indexes: the log writer pays nothing for them.
CREATE INDEX idx_request_logs_errors ON request_logs (created_at, status_code) WHERE status_code >= 400;
CREATE INDEX idx_request_logs_key_errors ON request_logs (api_key_id, created_at, status_code) WHERE status_code >= 400;
CREATE INDEX idx_request_logs_upstream_errors ON request_logs (upstream_id, created_at, status_code) WHERE status_code >= 400;
CREATE INDEX idx_request_logs_model_errors ON request_logs (model_requested, created_at, status_code) WHERE status_code >= 400;
