//! Admin authentication: token check, sessions, login throttling.
pub mod admin_token;
pub mod login_throttle;
pub mod middleware;
pub mod session;

use std::net::IpAddr;

use axum::http::HeaderMap;

use crate::server::clock::SharedClock;
use admin_token::AdminToken;
use login_throttle::LoginThrottle;
use session::{cookie_value, SessionSigner, SESSION_COOKIE};

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
}

impl AdminAuth {
    pub fn new(token: AdminToken, session_key: [u8; 32], clock: SharedClock) -> Self {
        Self {
            token,
            signer: SessionSigner::new(session_key),
            throttle: LoginThrottle::default(),
            clock,
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

    pub fn session_valid(&self, headers: &HeaderMap) -> bool {
        headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|h| cookie_value(h, SESSION_COOKIE))
            .any(|v| self.signer.verify(v, self.clock.now_ms()))
    }

    /// A request is an admin's when it carries a valid session cookie or `Authorization: Bearer <ADMIN_TOKEN>`.
    pub fn authorize(&self, ip: IpAddr, headers: &HeaderMap) -> Result<(), AuthError> {
        if self.session_valid(headers) {
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
