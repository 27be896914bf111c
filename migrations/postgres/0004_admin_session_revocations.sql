-- Admin sessions are signed cookies; signing out revokes one by its nonce, kept until the
-- session would have expired anyway. "Sign out everywhere" is the settings key
-- `sessions_not_before`: sessions issued earlier are refused.
CREATE TABLE admin_session_revocations (
    nonce       TEXT PRIMARY KEY NOT NULL,
    expires_at  BIGINT NOT NULL
);
