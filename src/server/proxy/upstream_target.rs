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
        Ok(Self {
            origin: Origin::new(url.scheme(), &authority)?,
            path: url.path().trim_end_matches('/').to_string(),
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
