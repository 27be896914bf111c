//! Admin authentication: token check, sessions, login throttling.
pub mod admin_token;
pub mod login_throttle;
pub mod middleware;
pub mod session;

use std::net::IpAddr;

use axum::http::HeaderMap;

use crate::server::clock::SharedClock;
use crate::server::db::admin_sessions;
use admin_token::AdminToken;
use login_throttle::LoginThrottle;
use session::{cookie_value, Session, SessionSigner, SESSION_COOKIE};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("missing or invalid admin credentials")]
    Unauthorized,
    #[error("too many failed attempts; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
}

/// The admin authentication service shared by the UI, server functions and the REST API.
pub struct AdminAuth {
    token: AdminToken,
    signer: SessionSigner,
    throttle: LoginThrottle,
    clock: SharedClock,
    /// Where revoked sessions are kept, so that every instance refuses them at once.
    db: sqlx::AnyPool,
}

impl AdminAuth {
    pub fn new(
        token: AdminToken,
        session_key: [u8; 32],
        clock: SharedClock,
        db: sqlx::AnyPool,
    ) -> Self {
        Self {
            token,
            signer: SessionSigner::new(session_key),
            throttle: LoginThrottle::default(),
            clock,
            db,
        }
    }

    /// Exchanges the admin token for a new session value.
    pub fn login(&self, ip: IpAddr, presented: &str) -> Result<String, AuthError> {
        let now = self.clock.now_ms();
        self.throttle
            .check(ip, now)
            .map_err(|retry_after_secs| AuthError::Throttled { retry_after_secs })?;
        if self.token.verify(presented) {
            self.throttle.record_success(ip);
            Ok(self.signer.issue(now))
        } else {
            self.throttle.record_failure(ip, now);
            Err(AuthError::Unauthorized)
        }
    }

    /// The signed, unexpired sessions the request's cookies carry (normally one).
    fn sessions(&self, headers: &HeaderMap) -> Vec<Session> {
        let now = self.clock.now_ms();
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|h| cookie_value(h, SESSION_COOKIE))
            .filter_map(|v| self.signer.verify(v, now))
            .collect()
    }

    /// Whether the request carries a live session: signed by this gateway, unexpired, and not
    /// signed out (checked in the database, so a sign-out on any instance counts everywhere).
    /// A database error counts as "no session".
    pub async fn session_valid(&self, headers: &HeaderMap) -> bool {
        for session in self.sessions(headers) {
            match admin_sessions::is_revoked(&self.db, &session.nonce, session.issued_ms).await {
                Ok(false) => return true,
                Ok(true) => {}
                Err(e) => tracing::error!(error = %e, "cannot check the admin session"),
            }
        }
        false
    }

    /// Signs out the sessions the request carries: copies of the cookie stop working too.
    pub async fn logout(&self, headers: &HeaderMap) -> Result<(), sqlx::Error> {
        for session in self.sessions(headers) {
            admin_sessions::revoke(&self.db, &session.nonce, session.expires_ms).await?;
        }
        Ok(())
    }

    /// Signs out every session issued so far, on every instance.
    pub async fn logout_everywhere(&self) -> Result<(), sqlx::Error> {
        admin_sessions::revoke_all_before(&self.db, self.clock.now_ms()).await
    }

    /// A request is an admin's when it carries a valid session cookie or `Authorization: Bearer <ADMIN_TOKEN>`.
    pub async fn authorize(&self, ip: IpAddr, headers: &HeaderMap) -> Result<(), AuthError> {
        if self.session_valid(headers).await {
            return Ok(());
        }
        let Some(bearer) = crate::server::http::bearer::bearer_token(headers) else {
            return Err(AuthError::Unauthorized);
        };
        let now = self.clock.now_ms();
        self.throttle
            .check(ip, now)
            .map_err(|retry_after_secs| AuthError::Throttled { retry_after_secs })?;
        if self.token.verify(bearer) {
            Ok(())
        } else {
            self.throttle.record_failure(ip, now);
            Err(AuthError::Unauthorized)
        }
    }
}
