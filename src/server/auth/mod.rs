//! Admin authentication: token check, sessions, login throttling.
pub mod admin_token;
pub mod login_throttle;
pub mod session;

use std::net::IpAddr;

use axum::http::HeaderMap;

use crate::server::clock::SharedClock;
use crate::server::db::admin_sessions;
use admin_token::AdminToken;
use login_throttle::LoginThrottle;
use session::{cookie_value, Session, SessionSigner, SECURE_SESSION_COOKIE, SESSION_COOKIE};

/// How long a throttled failure waits before it is answered: a client that ignores
/// `Retry-After` gets at most a few guesses a second per connection.
const THROTTLED_PAUSE: std::time::Duration = std::time::Duration::from_millis(250);

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
    pub(crate) fn new(
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
    pub async fn login(&self, ip: IpAddr, presented: &str) -> Result<String, AuthError> {
        if self.token.verify(presented) {
            self.throttle.record_success(ip);
            return Ok(self.signer.issue(self.clock.now_ms()));
        }
        Err(self.refuse(ip).await)
    }

    /// A wrong token from `ip`: counted, and answered as throttled (after a short pause) once
    /// its source or everyone together failed too often. The right token is always checked
    /// first, so it is never turned away by someone else's failures.
    async fn refuse(&self, ip: IpAddr) -> AuthError {
        match self.throttle.record_failure(ip, self.clock.now_ms()) {
            None => AuthError::Unauthorized,
            Some(retry_after_secs) => {
                tokio::time::sleep(THROTTLED_PAUSE).await;
                AuthError::Throttled { retry_after_secs }
            }
        }
    }

    /// The signed, unexpired sessions the request's cookies carry (normally one).
    fn sessions(&self, headers: &HeaderMap) -> Vec<Session> {
        let now = self.clock.now_ms();
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|h| {
                [SECURE_SESSION_COOKIE, SESSION_COOKIE]
                    .into_iter()
                    .filter_map(move |name| cookie_value(h, name))
            })
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
        if self.token.verify(bearer) {
            self.throttle.record_success(ip);
            Ok(())
        } else {
            Err(self.refuse(ip).await)
        }
    }
}
