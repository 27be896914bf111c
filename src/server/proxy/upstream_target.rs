//! Where a request goes: an upstream's base URL, parsed once per routing load into its origin
//! (where the connection goes) and the path a request's URI is built from, so the hot path only
//! joins strings and checks the result.
use axum::http::uri::{InvalidUri, Uri};

use crate::server::http::upstream_pool::Origin;

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("invalid upstream URL: {0}")]
    Base(#[from] url::ParseError),
    #[error("invalid upstream URL: the scheme must be http or https, not {0}")]
    Scheme(String),
    #[error("invalid upstream URL: it has no host")]
    NoHost,
    #[error("invalid upstream URL: {0}")]
    Origin(#[from] axum::http::Error),
    #[error("invalid upstream request URI: {0}")]
    Uri(#[from] InvalidUri),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamTarget {
    /// `scheme://host[:port]`, the host as the URL parser normalised it, the port only when it
    /// is not the scheme's default.
    origin: Origin,
    /// The base URL's path without its trailing slashes (`""` for a bare host).
    path: String,
    /// Where Google's own API sits below the origin: the path less a trailing `/openai` (Google's
    /// OpenAI-compatible endpoint) and then a trailing version (`/v1beta`, `/v1`, ...), so
    /// `…/v1beta/openai`, `…/v1beta` and a bare host all reach `{root}/{version}/models/…`.
    gemini_root: String,
}

/// `v1`, `v1beta`, `v1alpha`, `v2beta1`: an API version segment.
fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let tail = &rest[digits..];
    digits > 0
        && ["", "alpha", "beta"].iter().any(|t| {
            tail.strip_prefix(t)
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
}

fn gemini_root(path: &str) -> String {
    let path = path.strip_suffix("/openai").unwrap_or(path);
    match path.rsplit_once('/') {
        Some((root, last)) if is_version(last) => root.to_string(),
        _ => path.to_string(),
    }
}

impl UpstreamTarget {
    pub fn parse(base_url: &str) -> Result<Self, TargetError> {
        let url = url::Url::parse(base_url)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TargetError::Scheme(url.scheme().to_string()));
        }
        let host = url.host_str().ok_or(TargetError::NoHost)?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let path = url.path().trim_end_matches('/').to_string();
        Ok(Self {
            origin: Origin::new(url.scheme(), &authority)?,
            gemini_root: gemini_root(&path),
            path,
        })
    }

    pub fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The request target in origin form, `{base path}/{path}?{query}`. `path` is the client's
    /// path as it arrived, still percent-encoded, so it is forwarded byte for byte.
    pub fn uri(&self, path: &str, query: Option<&str>) -> Result<Uri, TargetError> {
        let path = path.trim_start_matches('/');
        let mut s =
            String::with_capacity(self.path.len() + path.len() + 2 + query.map_or(0, str::len));
        s.push_str(&self.path);
        s.push('/');
        s.push_str(path);
        if let Some(q) = query {
            s.push('?');
            s.push_str(q);
        }
        Ok(Uri::try_from(s)?)
    }

    /// The request target of a call to Google's own API: `{gemini root}/{path}?{query}`, the
    /// path being `{version}/models/{model}:{action}` as the gateway built it.
    pub fn gemini_uri(&self, path: &str, query: Option<&str>) -> Result<Uri, TargetError> {
        let mut s = String::with_capacity(
            self.gemini_root.len() + path.len() + 2 + query.map_or(0, str::len),
        );
        s.push_str(&self.gemini_root);
        s.push('/');
        s.push_str(path.trim_start_matches('/'));
        if let Some(q) = query {
            s.push('?');
            s.push_str(q);
        }
        Ok(Uri::try_from(s)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The origin the connection goes to, then the request target it sends.
    fn uri(base: &str, path: &str, query: Option<&str>) -> String {
        let target = UpstreamTarget::parse(base).unwrap();
        let uri = target.uri(path, query).unwrap();
        assert!(uri.scheme().is_none() && uri.authority().is_none(), "{uri}");
        format!("{}{uri}", target.origin().as_str())
    }

    #[test]
    fn joins_base_path_and_query() {
        let base = "https://api.example.com/v1";
        assert_eq!(
            uri(base, "chat/completions", None),
            "https://api.example.com/v1/chat/completions"
        );
        assert_eq!(
            uri(base, "/messages", Some("beta=true")),
            "https://api.example.com/v1/messages?beta=true"
        );
        assert_eq!(
            uri("http://127.0.0.1:9/openai/v1/", "models", None),
            "http://127.0.0.1:9/openai/v1/models"
        );
        assert_eq!(uri("http://h", "models", None), "http://h/models");
        assert_eq!(uri("http://h/", "", None), "http://h/");
        assert_eq!(
            uri("http://[::1]:8080/v1", "models", None),
            "http://[::1]:8080/v1/models"
        );
        // A default port is dropped; the host is lower-cased, as the URL parser normalises it.
        assert_eq!(
            uri("HTTPS://API.Example.com:443/v1", "models", None),
            "https://api.example.com/v1/models"
        );
    }

    #[test]
    fn google_s_own_api_is_reached_from_any_of_its_base_urls() {
        let gemini = |base: &str| {
            let target = UpstreamTarget::parse(base).unwrap();
            let uri = target
                .gemini_uri(
                    "v1beta/models/gemini-2.5-flash:generateContent",
                    Some("alt=sse"),
                )
                .unwrap();
            format!("{}{uri}", target.origin().as_str())
        };
        let native =
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent?alt=sse";
        for base in [
            "https://generativelanguage.googleapis.com/v1beta/openai",
            "https://generativelanguage.googleapis.com/v1beta/openai/",
            "https://generativelanguage.googleapis.com/v1beta",
            "https://generativelanguage.googleapis.com/v1",
            "https://generativelanguage.googleapis.com",
            "https://generativelanguage.googleapis.com/",
        ] {
            assert_eq!(gemini(base), native, "{base}");
        }
        // A relay's own prefix is kept.
        assert_eq!(
            gemini("https://relay.example.com/google/v1beta"),
            "https://relay.example.com/google/v1beta/models/gemini-2.5-flash:generateContent?alt=sse"
        );
        assert_eq!(
            gemini("https://relay.example.com/gemini"),
            "https://relay.example.com/gemini/v1beta/models/gemini-2.5-flash:generateContent?alt=sse"
        );
        assert!(is_version("v1") && is_version("v1beta") && is_version("v1beta1"));
        assert!(is_version("v2alpha") && !is_version("version") && !is_version("v"));
        assert!(!is_version("openai") && !is_version("v1x"));
    }

    #[test]
    fn the_clients_encoding_is_kept() {
        assert_eq!(
            uri("https://api.example.com/v1", "files/a%20b", Some("q=%2F")),
            "https://api.example.com/v1/files/a%20b?q=%2F"
        );
        // A base path the parser had to encode stays encoded.
        assert_eq!(
            uri("https://api.example.com/my base/", "models", None),
            "https://api.example.com/my%20base/models"
        );
    }

    #[test]
    fn bad_bases_and_paths_are_errors() {
        assert!(matches!(
            UpstreamTarget::parse("not a url"),
            Err(TargetError::Base(_))
        ));
        assert!(matches!(
            UpstreamTarget::parse("ftp://example.com/"),
            Err(TargetError::Scheme(s)) if s == "ftp"
        ));
        let t = UpstreamTarget::parse("https://api.example.com/v1").unwrap();
        assert!(matches!(t.uri("a b", None), Err(TargetError::Uri(_))));
    }
}
