//! Which headers cross the gateway, each way by allowlist: what the providers' APIs, their
//! official SDKs and the coding agents define. Credentials, cookies, hop-by-hop and proxy
//! headers, client-IP claims and a client's choice of organization or project stay behind on
//! the way up; cookies, transport policy (`Alt-Svc`, HSTS) and the provider account's
//! organization stay behind on the way down.
use axum::http::{HeaderMap, HeaderName};

/// Client headers an upstream receives (the gateway adds the upstream's own credentials).
const FROM_CLIENT: &[&str] = &[
    "accept",
    "content-type",
    "user-agent",
    "idempotency-key",
    "anthropic-version",
    "anthropic-beta",
    "anthropic-dangerous-direct-browser-access",
    "openai-beta",
    // Coding agents' session and client identification (Claude Code, Codex CLI). Codex 0.171
    // sends `session-id`, `thread-id`, `x-client-request-id` and `x-codex-*` (window, turn
    // metadata, beta features); older versions sent `session_id`.
    "x-app",
    "x-claude-code-session-id",
    "session_id",
    "session-id",
    "thread-id",
    "x-client-request-id",
    "originator",
    // The google-genai SDKs' own telemetry (never `x-goog-api-key`: the gateway's key).
    "x-goog-api-client",
];
/// The official SDKs' own telemetry (`x-stainless-lang`, `x-stainless-retry-count`, ...) and
/// Codex's per-turn headers.
const FROM_CLIENT_PREFIXES: &[&str] = &["x-stainless-", "x-codex-"];

/// Upstream headers a client receives (`content-length` too when the body passes unchanged).
const FROM_UPSTREAM: &[&str] = &[
    "content-type",
    "content-encoding",
    "cache-control",
    "retry-after",
    "retry-after-ms",
    "x-should-retry",
    "x-request-id",
    "request-id",
    "openai-processing-ms",
    "openai-version",
];
/// The provider's rate-limit report, which SDKs read to pace themselves.
const FROM_UPSTREAM_PREFIXES: &[&str] = &["x-ratelimit-", "anthropic-ratelimit-"];

fn allowed(name: &str, exact: &[&str], prefixes: &[&str]) -> bool {
    exact.contains(&name) || prefixes.iter().any(|p| name.starts_with(p))
}

/// Headers the sender marked as hop-by-hop in `Connection`, which never pass on.
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

fn filtered(from: &HeaderMap, keep: impl Fn(&str) -> bool) -> HeaderMap {
    let hop_by_hop = named_in_connection(from);
    let mut out = HeaderMap::with_capacity(from.len());
    for (name, value) in from {
        let n = name.as_str();
        if keep(n) && !hop_by_hop.iter().any(|e| e == n) {
            out.append(name.clone(), value.clone());
        }
    }
    out
}

/// What the upstream receives from the client's headers (auth is added afterwards).
pub(crate) fn upstream_request_headers(client: &HeaderMap) -> HeaderMap {
    filtered(client, |n| allowed(n, FROM_CLIENT, FROM_CLIENT_PREFIXES))
}

/// What the client receives from the upstream's headers. `keep_length`: the body passes unchanged.
pub(crate) fn client_response_headers(upstream: &HeaderMap, keep_length: bool) -> HeaderMap {
    filtered(upstream, |n| {
        allowed(n, FROM_UPSTREAM, FROM_UPSTREAM_PREFIXES) || (keep_length && n == "content-length")
    })
}

pub(crate) fn is_event_stream(headers: &HeaderMap) -> bool {
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
    fn only_provider_headers_go_up() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("authorization", "Bearer sk-auto-x"),
            ("x-api-key", "sk-auto-x"),
            ("cookie", "ar_session=1"),
            ("x-forwarded-for", "1.2.3.4"),
            ("x-real-ip", "1.2.3.4"),
            ("forwarded", "for=1.2.3.4"),
            ("true-client-ip", "1.2.3.4"),
            ("cf-connecting-ip", "1.2.3.4"),
            ("openai-organization", "org-other-tenant"),
            ("openai-project", "proj-other-tenant"),
            ("connection", "keep-alive, user-agent"),
            ("user-agent", "named in Connection, so hop-by-hop"),
            ("content-length", "10"),
            ("accept-encoding", "gzip"),
            ("x-custom", "1"),
            ("anthropic-beta", "tools-2024"),
            ("anthropic-version", "2023-06-01"),
            ("x-stainless-lang", "python"),
            ("x-goog-api-key", "sk-auto-x"),
            ("x-goog-user-project", "other-tenant"),
            ("x-goog-api-client", "google-genai-sdk/3.6.1"),
            ("content-type", "application/json"),
        ] {
            h.append(HeaderName::from_static(k), v.parse().unwrap());
        }
        let out = upstream_request_headers(&h);
        let names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "anthropic-beta",
                "anthropic-version",
                "x-stainless-lang",
                "x-goog-api-client",
                "content-type"
            ]
        );
    }

    #[test]
    fn codex_headers_go_up() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("session-id", "019a"),
            ("thread-id", "019a"),
            ("x-client-request-id", "019a"),
            ("x-codex-window-id", "019a:0"),
            ("x-codex-turn-metadata", "{}"),
            ("originator", "codex_exec"),
        ] {
            h.append(HeaderName::from_static(k), v.parse().unwrap());
        }
        assert_eq!(upstream_request_headers(&h).len(), 6);
    }

    #[test]
    fn only_answer_headers_come_down() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("set-cookie", "__cf_bm=1"),
            ("alt-svc", "h3=\":443\""),
            ("strict-transport-security", "max-age=31536000"),
            ("openai-organization", "org-gateway-owner"),
            ("openai-project", "proj-gateway-owner"),
            ("anthropic-organization-id", "org-gateway-owner"),
            ("cf-ray", "1"),
            ("server", "cloudflare"),
            ("content-type", "application/json"),
            ("x-ratelimit-remaining-requests", "99"),
            ("anthropic-ratelimit-tokens-remaining", "9"),
            ("retry-after", "1"),
        ] {
            h.append(HeaderName::from_static(k), v.parse().unwrap());
        }
        let out = client_response_headers(&h, true);
        let names: Vec<&str> = out.keys().map(|k| k.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "content-type",
                "x-ratelimit-remaining-requests",
                "anthropic-ratelimit-tokens-remaining",
                "retry-after"
            ]
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
