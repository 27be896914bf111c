-- Model prices an admin set, by exact model name or `*` pattern (stored in lower case). A row
-- whose model is also in the shipped list (src/server/db/default_prices.json) overrides it;
-- any other is a custom price. Refreshing the shipped list never touches this table, so
-- overrides survive it. Rates are integer micro-USD per million tokens (pico-USD per token);
-- NULL falls back: cached_input and cache_write_5m to input, cache_write_1h to cache_write_5m.
CREATE TABLE model_prices (
    model           TEXT PRIMARY KEY NOT NULL,
    input           INTEGER NOT NULL,
    output          INTEGER NOT NULL,
    cached_input    INTEGER,
    cache_write_5m  INTEGER,
    cache_write_1h  INTEGER,
    updated_at      INTEGER NOT NULL
);
