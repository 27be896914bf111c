-- A client key is 256 random bits: its SHA-256 identifies it as surely as a bcrypt hash
-- protects it, and is found by index. With it the gateway finds a presented key in a map,
-- whatever its prefix, and never runs bcrypt for it; a key made before this column existed
-- has none and is still checked by bcrypt under its prefix.
ALTER TABLE api_keys ADD COLUMN key_digest TEXT;
CREATE UNIQUE INDEX idx_api_keys_digest ON api_keys (key_digest);
