-- Alerts by webhook (docs/alerts.md): where alerts go, what was sent, and the last state each
-- alert subject was announced in, so that one event makes one alert across instances.
CREATE TABLE alert_webhooks (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    -- Fernet-encrypted: chat webhook URLs carry their token in the path or query.
    url_encrypted   TEXT NOT NULL,
    format          TEXT NOT NULL,
    -- JSON array of event kinds; NULL: every kind.
    events          TEXT,
    enabled         INTEGER NOT NULL DEFAULT 1,
    secret_encrypted TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE alert_deliveries (
    id            TEXT PRIMARY KEY,
    webhook_id    TEXT NOT NULL REFERENCES alert_webhooks (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    dedupe_key    TEXT NOT NULL,
    summary       TEXT NOT NULL,
    status        TEXT NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    delivered_at  INTEGER
);
CREATE INDEX idx_alert_deliveries_created ON alert_deliveries (created_at);
CREATE INDEX idx_alert_deliveries_webhook ON alert_deliveries (webhook_id, created_at);

-- `breaker:<upstream>` open|closed, `health:<upstream>` unhealthy|healthy, `error_rate` high|normal,
-- `budget:...:<period>:<threshold>` fired: an alert goes out only when this row changes.
CREATE TABLE alert_states (
    subject     TEXT PRIMARY KEY,
    state       TEXT NOT NULL,
    changed_at  INTEGER NOT NULL
);
