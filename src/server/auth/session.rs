//! Signed admin sessions carried in an HttpOnly cookie (never the raw admin token). The
//! signature proves the gateway issued it; each carries a random nonce by which signing out
//! revokes it server-side (`db::admin_sessions`).
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::server::crypto::random_bytes;

pub(crate) const SESSION_COOKIE: &str = "ar_session";
/// The name over HTTPS: browsers accept a `__Host-` cookie only from a secure origin, for the
/// whole host, never set by a sibling domain.
pub(crate) const SECURE_SESSION_COOKIE: &str = "__Host-ar_session";

fn cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}
pub(crate) const SESSION_TTL_MS: i64 = 7 * 24 * 3600 * 1000;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub(crate) struct SessionSigner {
    key: [u8; 32],
}

impl SessionSigner {
    pub(crate) fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    fn mac(&self, payload: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(payload.as_bytes());
        mac
    }

    /// `v1.<expires_ms>.<nonce>.<signature>`
    pub(crate) fn issue(&self, now_ms: i64) -> String {
        let payload = format!(
            "v1.{}.{}",
            now_ms + SESSION_TTL_MS,
            URL_SAFE_NO_PAD.encode(random_bytes::<16>())
        );
        let sig = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        format!("{payload}.{sig}")
    }

    /// The session a cookie value carries, if this gateway signed it and it has not expired.
    pub(crate) fn verify(&self, value: &str, now_ms: i64) -> Option<Session> {
        let (payload, sig) = value.rsplit_once('.')?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        // verify_slice compares in constant time.
        self.mac(payload).verify_slice(&sig).ok()?;
        let mut parts = payload.split('.');
        let (Some("v1"), Some(expires_ms), Some(nonce), None) = (
            parts.next(),
            parts.next().and_then(|e| e.parse::<i64>().ok()),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        (now_ms < expires_ms).then(|| Session {
            nonce: nonce.to_string(),
            issued_ms: expires_ms - SESSION_TTL_MS,
            expires_ms,
        })
    }
}

/// One signed-in browser's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Session {
    pub nonce: String,
    pub issued_ms: i64,
    pub expires_ms: i64,
}

/// The `Set-Cookie` value that stores a session.
pub(crate) fn session_cookie(value: &str, secure: bool) -> String {
    format!(
        "{}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        cookie_name(secure),
        SESSION_TTL_MS / 1000,
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session.
pub(crate) fn clear_session_cookie(secure: bool) -> String {
    format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        cookie_name(secure),
        if secure { "; Secure" } else { "" }
    )
}

/// Finds one cookie's value in a `Cookie` header.
pub(crate) fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_sessions_verify_until_they_expire() {
        let s = SessionSigner::new([7; 32]);
        let v = s.issue(1_000);
        let session = s.verify(&v, 1_001).expect("a fresh session verifies");
        assert_eq!(session.issued_ms, 1_000);
        assert_eq!(session.expires_ms, 1_000 + SESSION_TTL_MS);
        assert_ne!(
            s.verify(&s.issue(1_000), 1_001).unwrap().nonce,
            session.nonce
        );
        assert!(s.verify(&v, 1_000 + SESSION_TTL_MS).is_none());
    }

    #[test]
    fn tampered_or_foreign_sessions_fail() {
        let s = SessionSigner::new([7; 32]);
        let v = s.issue(0);
        let tampered = v.replacen("v1.", "v1.9", 1);
        assert!(s.verify(&tampered, 1).is_none());
        assert!(SessionSigner::new([8; 32]).verify(&v, 1).is_none());
        assert!(s.verify("garbage", 1).is_none());
        assert!(s.verify("", 1).is_none());
    }

    #[test]
    fn cookie_attributes() {
        let c = session_cookie("abc", true);
        assert!(c.starts_with("__Host-ar_session=abc; Path=/;"));
        assert!(session_cookie("abc", false).starts_with("ar_session=abc;"));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("; Secure"));
        assert!(!session_cookie("abc", false).contains("Secure"));
        assert!(clear_session_cookie(false).contains("Max-Age=0"));
        assert_eq!(
            cookie_value("a=1; ar_session=xyz; b=2", SESSION_COOKIE),
            Some("xyz")
        );
        assert_eq!(cookie_value("a=1", SESSION_COOKIE), None);
    }
}
