-- Spend control. Each log row carries its cost in nano-USD (NULL: the model has no price) and,
-- for a request a limit refused, which limit. The hourly and daily counters sum the cost, the
-- requests whose usage had no price, and the refusals, so dashboards and budgets never read
-- the log rows. Client keys get an allow-list of model globs, rate, token, concurrency and
-- budget limits; upstreams a concurrency and rate cap, a monthly spend quota and a price
-- multiplier (parts per million: 1000000 is list price). NULL means no limit.
ALTER TABLE request_logs ADD COLUMN cost_nanos BIGINT;
ALTER TABLE request_logs ADD COLUMN refused_by TEXT;

ALTER TABLE request_stats_hourly ADD COLUMN cost_nanos BIGINT NOT NULL DEFAULT 0;
ALTER TABLE request_stats_hourly ADD COLUMN unpriced BIGINT NOT NULL DEFAULT 0;
ALTER TABLE request_stats_hourly ADD COLUMN refused BIGINT NOT NULL DEFAULT 0;
ALTER TABLE request_stats_daily ADD COLUMN cost_nanos BIGINT NOT NULL DEFAULT 0;
ALTER TABLE request_stats_daily ADD COLUMN unpriced BIGINT NOT NULL DEFAULT 0;
ALTER TABLE request_stats_daily ADD COLUMN refused BIGINT NOT NULL DEFAULT 0;

ALTER TABLE api_keys ADD COLUMN allowed_models TEXT;
ALTER TABLE api_keys ADD COLUMN rpm_limit BIGINT;
ALTER TABLE api_keys ADD COLUMN tpm_limit BIGINT;
ALTER TABLE api_keys ADD COLUMN concurrency_limit BIGINT;
ALTER TABLE api_keys ADD COLUMN daily_budget_nanos BIGINT;
ALTER TABLE api_keys ADD COLUMN monthly_budget_nanos BIGINT;

ALTER TABLE upstreams ADD COLUMN concurrency_limit BIGINT;
ALTER TABLE upstreams ADD COLUMN rpm_limit BIGINT;
ALTER TABLE upstreams ADD COLUMN monthly_quota_nanos BIGINT;
ALTER TABLE upstreams ADD COLUMN price_multiplier_ppm BIGINT NOT NULL DEFAULT 1000000;

-- The time series sums cost beside requests and tokens: its covering index carries it too.
DROP INDEX idx_request_stats_hourly_series;
CREATE INDEX idx_request_stats_hourly_series
    ON request_stats_hourly (dimension, hour_start, value, requests, total_tokens, cost_nanos);

-- One key's spend day by day (its page) reads its own hours only.
CREATE INDEX idx_request_stats_hourly_value
    ON request_stats_hourly (dimension, value, hour_start);
