//! `GET /api/admin/session`: tells a script whether its credentials are accepted.
use axum::Json;
use serde::Serialize;

// Always `{"authenticated": true, "role": "admin"}`: without credentials the auth layer answers.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Session)]
pub(crate) struct SessionBody {
    #[schema(value_type = bool, examples(true))]
    authenticated: bool,
    #[schema(examples("admin"))]
    role: &'static str,
}

#[utoipa::path(
    get,
    path = "/session",
    tag = "session",
    operation_id = "getSession",
    summary = "Check the admin credentials",
    responses(
        (status = 200, description = "The credentials are accepted.", body = SessionBody,
            example = json!({"authenticated": true, "role": "admin"})),
    ),
)]
pub(crate) async fn whoami() -> Json<SessionBody> {
    Json(SessionBody {
        authenticated: true,
        role: "admin",
    })
}
