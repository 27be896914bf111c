//! Repository for revoked admin sessions and the "sign out everywhere" cut-off.
use sqlx::AnyPool;

const NOT_BEFORE_KEY: &str = "sessions_not_before";

/// Whether the session with this nonce, issued at `issued_ms`, has been signed out.
pub(crate) async fn is_revoked(
    pool: &AnyPool,
    nonce: &str,
    issued_ms: i64,
) -> Result<bool, sqlx::Error> {
    let (revoked, not_before): (i64, Option<String>) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM admin_session_revocations WHERE nonce = $1), \
                (SELECT value FROM settings WHERE key = $2)",
    )
    .bind(nonce)
    .bind(NOT_BEFORE_KEY)
    .fetch_one(pool)
    .await?;
    let cut_off = not_before.and_then(|v| v.parse::<i64>().ok());
    Ok(revoked > 0 || cut_off.is_some_and(|c| issued_ms <= c))
}

pub(crate) async fn revoke(
    pool: &AnyPool,
    nonce: &str,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO admin_session_revocations (nonce, expires_at) VALUES ($1, $2) \
         ON CONFLICT (nonce) DO NOTHING",
    )
    .bind(nonce)
    .bind(expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every session issued up to `now_ms` stops working.
pub(crate) async fn revoke_all_before(pool: &AnyPool, now_ms: i64) -> Result<(), sqlx::Error> {
    super::settings::put_all(pool, &[(NOT_BEFORE_KEY, now_ms.to_string())], now_ms).await
}

/// Revocations of sessions that have expired by now are no longer needed.
pub(crate) async fn purge_expired(pool: &AnyPool, now_ms: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM admin_session_revocations WHERE expires_at <= $1")
            .bind(now_ms)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
