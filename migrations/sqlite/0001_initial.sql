-- AutoRouter schema (SQLite). Times are Unix milliseconds; flags are 0/1 integers so one
-- portable query layer reads both backends the same way.

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY NOT NULL,
    key_prefix     TEXT NOT NULL,
    key_hash       TEXT NOT NULL,
    key_encrypted  TEXT NOT NULL,
    name           TEXT NOT NULL,
    description    TEXT,
    is_active      INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    expires_at     INTEGER,
    last_used_at   INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX idx_api_keys_prefix ON api_keys (key_prefix);
CREATE INDEX idx_api_keys_created ON api_keys (created_at);

CREATE TABLE upstreams (
    id                 TEXT PRIMARY KEY NOT NULL,
    name               TEXT NOT NULL UNIQUE,
    provider           TEXT NOT NULL CHECK (provider IN ('openai', 'anthropic', 'google', 'openai_compatible')),
    base_url           TEXT NOT NULL,
    api_key_encrypted  TEXT NOT NULL,
    timeout_ms         INTEGER NOT NULL DEFAULT 60000,
    weight             INTEGER NOT NULL DEFAULT 1 CHECK (weight BETWEEN 1 AND 100),
    priority           INTEGER NOT NULL DEFAULT 0,
    allowed_models     TEXT,            -- JSON array of names or globs; NULL = provider defaults
    model_redirects    TEXT,            -- JSON object {requested: sent}
    is_active          INTEGER NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    breaker_config     TEXT,            -- JSON {failure_threshold, success_threshold, open_duration_ms, half_open_max_probes}
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE INDEX idx_upstreams_priority ON upstreams (is_active, priority);

CREATE TABLE api_key_upstreams (
    api_key_id   TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    upstream_id  TEXT NOT NULL REFERENCES upstreams (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (api_key_id, upstream_id)
);
CREATE INDEX idx_api_key_upstreams_upstream ON api_key_upstreams (upstream_id);

CREATE TABLE upstream_health (
    upstream_id           TEXT PRIMARY KEY NOT NULL REFERENCES upstreams (id) ON DELETE CASCADE,
    is_healthy            INTEGER NOT NULL DEFAULT 1 CHECK (is_healthy IN (0, 1)),
    last_check_at         INTEGER,
    last_success_at       INTEGER,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    latency_ms            INTEGER,
    last_error            TEXT,
    updated_at            INTEGER NOT NULL
);

CREATE TABLE circuit_breaker_states (
    upstream_id      TEXT PRIMARY KEY NOT NULL REFERENCES upstreams (id) ON DELETE CASCADE,
    state            TEXT NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
    failure_count    INTEGER NOT NULL DEFAULT 0,
    success_count    INTEGER NOT NULL DEFAULT 0,
    last_failure_at  INTEGER,
    opened_at        INTEGER,
    last_probe_at    INTEGER,
    forced           TEXT CHECK (forced IS NULL OR forced IN ('open', 'closed')),
    updated_at       INTEGER NOT NULL
);

CREATE TABLE settings (
    key         TEXT PRIMARY KEY NOT NULL,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE request_logs (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id             TEXT NOT NULL,
    api_key_id             TEXT,            -- no foreign key: logs outlive deleted keys
    upstream_id            TEXT,
    method                 TEXT NOT NULL,
    path                   TEXT NOT NULL,
    model_requested        TEXT,
    model_sent             TEXT,
    status_code            INTEGER,
    is_stream              INTEGER NOT NULL DEFAULT 0 CHECK (is_stream IN (0, 1)),
    prompt_tokens          INTEGER NOT NULL DEFAULT 0,
    completion_tokens      INTEGER NOT NULL DEFAULT 0,
    total_tokens           INTEGER NOT NULL DEFAULT 0,
    cached_tokens          INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens       INTEGER NOT NULL DEFAULT 0,
    cache_creation_tokens  INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens      INTEGER NOT NULL DEFAULT 0,
    ttft_ms                INTEGER,
    duration_ms            INTEGER,
    error_message          TEXT,
    lb_strategy            TEXT,
    failover_attempts      INTEGER NOT NULL DEFAULT 0,
    failover_history       TEXT,            -- JSON array of attempts
    created_at             INTEGER NOT NULL
);
CREATE INDEX idx_request_logs_created ON request_logs (created_at);
CREATE INDEX idx_request_logs_key_created ON request_logs (api_key_id, created_at);
CREATE INDEX idx_request_logs_upstream_created ON request_logs (upstream_id, created_at);
CREATE INDEX idx_request_logs_model_created ON request_logs (model_requested, created_at);
CREATE INDEX idx_request_logs_request_id ON request_logs (request_id);
