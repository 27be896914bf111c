//! Repository for `upstream_models`: the models each upstream listed when last asked.
use std::collections::HashMap;

use sqlx::AnyPool;

/// Replaces an upstream's listed models with `models` (on success) and notes when it was asked
/// and what went wrong, if anything (a failed fetch keeps the list it had).
pub(crate) async fn record_fetch(
    pool: &AnyPool,
    upstream_id: &str,
    outcome: Result<&[String], &str>,
    now_ms: i64,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    if let Ok(models) = outcome {
        sqlx::query("DELETE FROM upstream_models WHERE upstream_id = $1")
            .bind(upstream_id)
            .execute(&mut *tx)
            .await?;
        for model in models {
            sqlx::query(
                "INSERT INTO upstream_models (upstream_id, model, seen_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (upstream_id, model) DO NOTHING",
            )
            .bind(upstream_id)
            .bind(model)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
    }
    sqlx::query("UPDATE upstreams SET models_fetched_at = $2, models_error = $3 WHERE id = $1")
        .bind(upstream_id)
        .bind(now_ms)
        .bind(outcome.err())
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Every upstream's listed models, by name.
pub(crate) async fn all(pool: &AnyPool) -> Result<HashMap<String, Vec<String>>, sqlx::Error> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT upstream_id, model FROM upstream_models ORDER BY upstream_id, model",
    )
    .fetch_all(pool)
    .await?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (upstream, model) in rows {
        out.entry(upstream).or_default().push(model);
    }
    Ok(out)
}

/// One upstream's listed models, by name.
pub(crate) async fn of(pool: &AnyPool, upstream_id: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT model FROM upstream_models WHERE upstream_id = $1 ORDER BY model")
        .bind(upstream_id)
        .fetch_all(pool)
        .await
}

/// When an upstream's models were last asked for, and the error then, if any.
pub(crate) async fn fetch_state(
    pool: &AnyPool,
    upstream_id: &str,
) -> Result<(Option<i64>, Option<String>), sqlx::Error> {
    Ok(
        sqlx::query_as("SELECT models_fetched_at, models_error FROM upstreams WHERE id = $1")
            .bind(upstream_id)
            .fetch_optional(pool)
            .await?
            .unwrap_or((None, None)),
    )
}
