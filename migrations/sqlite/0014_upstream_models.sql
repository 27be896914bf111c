-- The models each upstream lists (its own /v1/models, fetched on an interval and on demand),
-- so a key's model list names every model it can reach, and the upstream form offers them.
CREATE TABLE upstream_models (
    upstream_id  TEXT NOT NULL REFERENCES upstreams (id) ON DELETE CASCADE,
    model        TEXT NOT NULL,
    seen_at      INTEGER NOT NULL,
    PRIMARY KEY (upstream_id, model)
);
ALTER TABLE upstreams ADD COLUMN models_fetched_at INTEGER;
ALTER TABLE upstreams ADD COLUMN models_error TEXT;
