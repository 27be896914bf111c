//! Key material: the Fernet cipher for secrets at rest, token generation and hashing.
use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::config::EncryptionKeySource;

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("ENCRYPTION_KEY: must be 32 bytes encoded as base64 (standard or URL-safe)")]
    BadKey,
    #[error("{path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("decryption failed: wrong ENCRYPTION_KEY or corrupted value")]
    Decrypt,
}

/// Parses a 32-byte key given in standard or URL-safe base64 (padded or not).
fn decode_key(raw: &str) -> Result<[u8; 32], CryptoError> {
    let raw = raw.trim();
    let bytes = URL_SAFE
        .decode(raw)
        .or_else(|_| STANDARD.decode(raw))
        .or_else(|_| URL_SAFE_NO_PAD.decode(raw))
        .map_err(|_| CryptoError::BadKey)?;
    bytes.try_into().map_err(|_| CryptoError::BadKey)
}

pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    rand::rng().fill_bytes(&mut buf);
    buf
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Lower-case hex of a SHA-256 digest, as `api_keys.key_digest` stores it.
pub fn digest_hex(digest: &[u8; 32]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The digest a `key_digest` column holds, if it is one.
pub(crate) fn digest_from_hex(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Writes a file readable only by its owner (mode 0600), refusing to overwrite one.
pub(crate) fn write_private_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// Symmetric encryption of secrets at rest (upstream keys, client key copies).
#[derive(Clone)]
pub(crate) struct Cipher {
    fernet: std::sync::Arc<fernet::Fernet>,
    raw: [u8; 32],
}

impl std::fmt::Debug for Cipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cipher(***)")
    }
}

impl Cipher {
    pub(crate) fn from_key(raw: [u8; 32]) -> Self {
        let encoded = URL_SAFE.encode(raw);
        let fernet =
            fernet::Fernet::new(&encoded).expect("a 32-byte key is always a valid Fernet key");
        Self {
            fernet: std::sync::Arc::new(fernet),
            raw,
        }
    }

    /// Loads the key from its configured source, generating the data-dir key file on first start.
    pub(crate) fn load(source: &EncryptionKeySource) -> Result<(Self, bool), CryptoError> {
        match source {
            EncryptionKeySource::Inline(key) => {
                Ok((Self::from_key(decode_key(key.expose())?), false))
            }
            EncryptionKeySource::File {
                path,
                create_if_missing,
            } => {
                let file_err = |reason: String| CryptoError::KeyFile {
                    path: path.display().to_string(),
                    reason,
                };
                match std::fs::read_to_string(path) {
                    Ok(text) => Ok((Self::from_key(decode_key(&text)?), false)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && *create_if_missing => {
                        let key = random_bytes::<32>();
                        write_private_file(path, URL_SAFE.encode(key).as_bytes())
                            .map_err(|e| file_err(format!("cannot create key file: {e}")))?;
                        Ok((Self::from_key(key), true))
                    }
                    Err(e) => Err(file_err(format!("cannot read key file: {e}"))),
                }
            }
        }
    }

    pub(crate) fn encrypt(&self, plaintext: &str) -> String {
        self.fernet.encrypt(plaintext.as_bytes())
    }

    pub(crate) fn decrypt(&self, token: &str) -> Result<String, CryptoError> {
        let bytes = self
            .fernet
            .decrypt(token)
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(bytes).map_err(|_| CryptoError::Decrypt)
    }

    /// Derives an independent sub-key (e.g. for signing sessions) so the Fernet key itself is never reused.
    pub(crate) fn derive(&self, purpose: &str, extra: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"autorouter:");
        h.update(purpose.as_bytes());
        h.update(b":");
        h.update(self.raw);
        h.update(extra);
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypt_decrypt_round_trip() {
        let c = Cipher::from_key(random_bytes());
        let token = c.encrypt("sk-upstream-secret");
        assert!(!token.contains("sk-upstream-secret"));
        assert_eq!(c.decrypt(&token).unwrap(), "sk-upstream-secret");
        let other = Cipher::from_key(random_bytes());
        assert!(other.decrypt(&token).is_err());
    }

    #[test]
    fn keys_parse_in_standard_and_url_safe_base64() {
        let key = [0xfbu8; 32];
        assert_eq!(decode_key(&STANDARD.encode(key)).unwrap(), key);
        assert_eq!(decode_key(&URL_SAFE.encode(key)).unwrap(), key);
        assert_eq!(decode_key(&URL_SAFE_NO_PAD.encode(key)).unwrap(), key);
        assert!(decode_key("too-short").is_err());
        assert!(decode_key(&STANDARD.encode([1u8; 16])).is_err());
    }

    #[test]
    fn key_file_is_generated_once_with_private_mode() {
        let dir = std::env::temp_dir().join(format!("ar-key-{}", hex_id()));
        let source = EncryptionKeySource::File {
            path: dir.join("encryption.key"),
            create_if_missing: true,
        };
        let (a, created) = Cipher::load(&source).unwrap();
        assert!(created);
        let (b, created_again) = Cipher::load(&source).unwrap();
        assert!(!created_again);
        assert_eq!(b.decrypt(&a.encrypt("x")).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("encryption.key"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(dir).ok();
    }

    fn hex_id() -> String {
        random_bytes::<8>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}
