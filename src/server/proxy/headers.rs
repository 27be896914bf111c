//! Which headers cross the gateway: hop-by-hop and client credentials stay behind.
use axum::http::{HeaderMap, HeaderName};

/// RFC 9110 hop-by-hop headers plus those that only make sense for one connection.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// Client headers that must never reach an upstream.
const CLIENT_ONLY: &[&str] = &[
    "authorization",
    "x-api-key",
    "cookie",
    "forwarded",
    "x-real-ip",
    "accept-encoding",
];

fn named_in_connection(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("connection")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// What the upstream receives from the client's headers (auth is added afterwards).
pub fn upstream_request_headers(client: &HeaderMap) -> HeaderMap {
    let extra = named_in_connection(client);
    let mut out = HeaderMap::with_capacity(client.len());
    for (name, value) in client {
        let n = name.as_str();
        if HOP_BY_HOP.contains(&n)
            || CLIENT_ONLY.contains(&n)
            || n.starts_with("x-forwarded-")
            || extra.iter().any(|e| e == n)
        {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

/// What the client receives from the upstream's headers. `keep_length`: the body passes unchanged.
pub fn client_response_headers(upstream: &HeaderMap, keep_length: bool) -> HeaderMap {
    let extra = named_in_connection(upstream);
    let mut out = HeaderMap::with_capacity(upstream.len());
    for (name, value) in upstream {
        let n = name.as_str();
        if (HOP_BY_HOP.contains(&n) && !(keep_length && n == "content-length"))
            || extra.iter().any(|e| e == n)
        {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    out
}

pub fn is_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(HeaderName::from_static("content-type"))
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("text/event-stream")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_hop_by_hop_stay_behind() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer sk-auto-x"),
            ("x-api-key", "sk-auto-x"),
            ("cookie", "ar_session=1"),
            ("x-forwarded-for", "1.2.3.4"),
            ("connection", "keep-alive, x-drop-me"),
            ("x-drop-me", "1"),
            ("content-length", "10"),
            ("anthropic-beta", "tools-2024"),
            ("openai-organization", "org-1"),
            ("content-type", "application/json"),
        ] {
            h.append(HeaderName::from_static(k), v.parse().unwrap());
        }
        let out = upstream_request_headers(&h);
        let names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            vec!["anthropic-beta", "openai-organization", "content-type"]
        );
    }

    #[test]
    fn response_headers_keep_length_only_when_the_body_is_unchanged() {
        let mut h = HeaderMap::new();
        h.insert("content-length", "5".parse().unwrap());
        h.insert("transfer-encoding", "chunked".parse().unwrap());
        h.insert("x-request-id", "up-1".parse().unwrap());
        assert!(client_response_headers(&h, true).contains_key("content-length"));
        assert!(!client_response_headers(&h, false).contains_key("content-length"));
        assert!(!client_response_headers(&h, true).contains_key("transfer-encoding"));
        assert!(client_response_headers(&h, true).contains_key("x-request-id"));
    }
}
