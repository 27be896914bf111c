//! `GET /api/health`: unauthenticated liveness, database status and where limits are counted.
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;

use crate::server::state::AppState;

// Fields in the order the body always had them (alphabetical).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Health)]
pub(crate) struct HealthBody {
    #[schema(inline)]
    database: DatabaseStatus,
    /// Where the counters of rate, concurrency and spend limits live: `shared` (Redis, across
    /// instances) or `local` (this instance alone: no `REDIS_URL`, or Redis is unreachable and
    /// the gateway fell back until it answers again).
    #[schema(examples("local", "shared"))]
    limits: &'static str,
    #[schema(inline)]
    status: Status,
    /// The server's package version.
    #[schema(examples("0.1.0"))]
    version: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum Status {
    Healthy,
    Degraded,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
enum DatabaseStatus {
    Ok,
    Error,
}

#[utoipa::path(
    get,
    path = "/api/health",
    tag = "health",
    operation_id = "health",
    summary = "Liveness and database status",
    description = "Needs no credentials.",
    responses(
        (status = 200, description = "Healthy.", body = HealthBody,
            example = json!({"status": "healthy", "version": "0.1.0", "database": "ok", "limits": "shared"})),
        (status = 503, description = "The database does not answer.", body = HealthBody,
            example = json!({"status": "degraded", "version": "0.1.0", "database": "error", "limits": "local"})),
    ),
)]
pub(crate) async fn health(State(state): State<AppState>) -> (StatusCode, Json<HealthBody>) {
    let db_ok = state.db.ping().await;
    let (status, body) = if db_ok {
        (StatusCode::OK, (Status::Healthy, DatabaseStatus::Ok))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            (Status::Degraded, DatabaseStatus::Error),
        )
    };
    (
        status,
        Json(HealthBody {
            database: body.1,
            limits: state.plane.limiter.mode().as_str(),
            status: body.0,
            version: env!("CARGO_PKG_VERSION"),
        }),
    )
}
