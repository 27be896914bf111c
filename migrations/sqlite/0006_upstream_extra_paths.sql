-- Paths beyond the documented endpoint table that one upstream forwards, opted in by the admin:
-- a JSON array of paths below /v1/ (POST, with a JSON body naming the model). NULL: none.
ALTER TABLE upstreams ADD COLUMN extra_paths TEXT;
