//! The admin token: only its SHA-256 is held in memory; presented tokens are compared in constant time.
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

use crate::server::config::AdminTokenSource;
use crate::server::crypto::{random_bytes, sha256, write_private_file};
use crate::server::secret::Secret;

#[derive(Clone)]
pub(crate) struct AdminToken {
    hash: [u8; 32],
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(***)")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct AdminTokenError {
    pub path: String,
    pub reason: String,
}

impl AdminToken {
    pub(crate) fn from_plain(token: &str) -> Self {
        Self {
            hash: sha256(token.as_bytes()),
        }
    }

    /// Resolves the configured token. Returns the plain token only when it was generated just now,
    /// so the caller can print it exactly once.
    pub(crate) fn load(
        source: &AdminTokenSource,
    ) -> Result<(Self, Option<Secret<String>>), AdminTokenError> {
        match source {
            AdminTokenSource::Inline(t) => Ok((Self::from_plain(t.expose()), None)),
            AdminTokenSource::Generated { hash_path } => load_or_generate(hash_path),
        }
    }

    pub(crate) fn verify(&self, presented: &str) -> bool {
        sha256(presented.as_bytes()).ct_eq(&self.hash).into()
    }

    pub(crate) fn hash(&self) -> &[u8; 32] {
        &self.hash
    }
}

fn load_or_generate(path: &Path) -> Result<(AdminToken, Option<Secret<String>>), AdminTokenError> {
    let err = |reason: String| AdminTokenError {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes =
                decode_hex(text.trim()).ok_or_else(|| err("not a SHA-256 hex digest".into()))?;
            Ok((AdminToken { hash: bytes }, None))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let token = format!("art_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()));
            let admin = AdminToken::from_plain(&token);
            let hex: String = admin.hash.iter().map(|b| format!("{b:02x}")).collect();
            write_private_file(path, hex.as_bytes())
                .map_err(|e| err(format!("cannot write: {e}")))?;
            Ok((admin, Some(Secret::new(token))))
        }
        Err(e) => Err(err(format!("cannot read: {e}"))),
    }
}

fn decode_hex(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_right_token() {
        let t = AdminToken::from_plain("correct-horse-battery");
        assert!(t.verify("correct-horse-battery"));
        assert!(!t.verify("correct-horse-batter"));
        assert!(!t.verify(""));
    }

    #[test]
    fn generated_token_is_returned_once_and_persisted_as_a_hash() {
        let dir = std::env::temp_dir().join(format!(
            "ar-admin-{}",
            random_bytes::<6>()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ));
        let source = AdminTokenSource::Generated {
            hash_path: dir.join("admin_token.sha256"),
        };
        let (first, plain) = AdminToken::load(&source).unwrap();
        let plain = plain.expect("first start prints the token");
        assert!(first.verify(plain.expose()));
        let stored = std::fs::read_to_string(dir.join("admin_token.sha256")).unwrap();
        assert!(!stored.contains(plain.expose().as_str()));
        let (second, again) = AdminToken::load(&source).unwrap();
        assert!(again.is_none());
        assert!(second.verify(plain.expose()));
        std::fs::remove_dir_all(dir).ok();
    }
}
