-- Records copied from another gateway (the original Next.js AutoRouter): which of its rows have
-- been copied, so that running the same import again copies nothing twice. Upstreams and keys
-- keep their ids; request logs get new ones, so their source ids are kept here.
CREATE TABLE imported_rows (
    kind         TEXT NOT NULL,
    source_id    TEXT NOT NULL,
    imported_at  INTEGER NOT NULL,
    PRIMARY KEY (kind, source_id)
);
