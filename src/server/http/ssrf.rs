//! SSRF guard for upstream URLs: refuses internal addresses at save, test and connect time.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// Why an upstream URL was refused. Messages are shown to admins, so they never
/// echo the raw URL (it may carry credentials), only the scheme, host or address.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub(crate) enum SsrfError {
    #[error("not a valid URL: {0}")]
    InvalidUrl(String),
    #[error("only http and https upstreams are allowed (got {0}:)")]
    Scheme(String),
    #[error("upstream URL has no host")]
    MissingHost,
    #[error("URLs with user:password@ are not allowed; use the API key field")]
    Credentials,
    #[error("upstream address {addr}{} is {reason}{}", origin(.host, .addr), hint(.reason))]
    Blocked {
        host: String,
        addr: IpAddr,
        reason: &'static str,
    },
    #[error("could not resolve upstream host {host}: {message}")]
    Resolve { host: String, message: String },
}

impl SsrfError {
    /// A stable code for the UI's message, and the value it names.
    pub(crate) fn reason(&self) -> (&'static str, Option<String>) {
        match self {
            SsrfError::InvalidUrl(_) | SsrfError::MissingHost => ("url_invalid", None),
            SsrfError::Scheme(s) => ("url_scheme", Some(s.clone())),
            SsrfError::Credentials => ("url_credentials", None),
            SsrfError::Blocked { addr, .. } => ("ssrf_blocked", Some(addr.to_string())),
            SsrfError::Resolve { host, .. } => ("url_resolve", Some(host.clone())),
        }
    }
}

/// Names the host only when it adds information, i.e. when it was a DNS name
/// rather than the address itself.
fn origin(host: &str, addr: &IpAddr) -> String {
    if strip_brackets(host).parse::<IpAddr>().ok() == Some(*addr) {
        String::new()
    } else {
        format!(" (host {host})")
    }
}

/// Only suggest the opt-in when it would actually help; suggesting it for a
/// metadata address would send the admin down a dead end.
fn hint(reason: &str) -> &'static str {
    if Category::LIFTABLE.iter().any(|c| c.reason() == reason) {
        " (set ALLOW_PRIVATE_UPSTREAMS=true for local models)"
    } else {
        ""
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Category {
    Loopback,
    Private,
    SharedCgnat,
    UniqueLocal,
    LinkLocal,
    Unspecified,
    ThisNetwork,
    Broadcast,
    Multicast,
    Reserved,
    Documentation,
}

impl Category {
    /// Ranges an operator may legitimately host a model on (Ollama, vLLM, a
    /// sidecar). Everything else is never a sensible upstream: link-local hosts
    /// cloud metadata endpoints (credential theft), and 0.0.0.0 / `::` connect to
    /// the gateway host itself on Linux.
    const LIFTABLE: [Category; 4] = [
        Category::Loopback,
        Category::Private,
        Category::SharedCgnat,
        Category::UniqueLocal,
    ];

    fn reason(self) -> &'static str {
        match self {
            Category::Loopback => "loopback",
            Category::Private => "private",
            Category::SharedCgnat => "carrier-grade NAT (shared address space)",
            Category::UniqueLocal => "unique-local (private IPv6)",
            Category::LinkLocal => "link-local (cloud metadata endpoints live here)",
            Category::Unspecified => "unspecified",
            Category::ThisNetwork => "in 0.0.0.0/8 (\"this network\")",
            Category::Broadcast => "broadcast",
            Category::Multicast => "multicast",
            Category::Reserved => "reserved",
            Category::Documentation => "reserved for documentation",
        }
    }

    fn liftable(self) -> bool {
        Self::LIFTABLE.contains(&self)
    }
}

fn category(ip: IpAddr) -> Option<Category> {
    match ip {
        IpAddr::V4(v4) => category_v4(v4),
        IpAddr::V6(v6) => category_v6(v6),
    }
}

fn category_v4(ip: Ipv4Addr) -> Option<Category> {
    let [a, b, c, _] = ip.octets();
    let cat = match (a, b, c) {
        (0, 0, 0) if ip.is_unspecified() => Category::Unspecified,
        (0, _, _) => Category::ThisNetwork,
        (127, _, _) => Category::Loopback,
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => Category::Private,
        (100, 64..=127, _) => Category::SharedCgnat,
        (169, 254, _) => Category::LinkLocal,
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Category::Documentation,
        (224..=239, _, _) => Category::Multicast,
        (255, 255, 255) if ip.is_broadcast() => Category::Broadcast,
        (240..=255, _, _) => Category::Reserved,
        // 198.18.0.0/15 (benchmarking) is deliberately not refused: fake-IP DNS
        // setups (Clash/Mihomo, Surge) answer every public name from it, and
        // refusing it would break all upstreams for those deployments.
        _ => return None,
    };
    Some(cat)
}

fn category_v6(ip: Ipv6Addr) -> Option<Category> {
    if ip.is_unspecified() {
        return Some(Category::Unspecified);
    }
    if ip.is_loopback() {
        return Some(Category::Loopback);
    }
    // These forms are routed to the embedded IPv4 address (by the kernel, a
    // NAT64 gateway or a 6to4 relay), so they must get the IPv4 verdict, or
    // ::ffff:169.254.169.254 would walk straight past the link-local rule.
    if let Some(v4) = embedded_v4(ip) {
        return category_v4(v4);
    }
    let s = ip.segments();
    let cat = match s[0] {
        x if x & 0xfe00 == 0xfc00 => Category::UniqueLocal,
        x if x & 0xffc0 == 0xfe80 => Category::LinkLocal,
        // Deprecated site-local: same intent as unique-local.
        x if x & 0xffc0 == 0xfec0 => Category::UniqueLocal,
        x if x & 0xff00 == 0xff00 => Category::Multicast,
        0x2001 if s[1] == 0x0db8 => Category::Documentation,
        // Local-use NAT64 (RFC 8215) translates into the site's own IPv4 space.
        0x0064 if s[1] == 0xff9b && s[2] == 0x0001 => Category::Private,
        _ => return None,
    };
    Some(cat)
}

fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let v4 = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    match s {
        // IPv4-mapped ::ffff:a.b.c.d, IPv4-translated ::ffff:0:a.b.c.d, and
        // the deprecated IPv4-compatible ::a.b.c.d.
        [0, 0, 0, 0, 0, 0xffff, hi, lo]
        | [0, 0, 0, 0, 0xffff, 0, hi, lo]
        | [0, 0, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        // Well-known NAT64 prefix 64:ff9b::/96.
        [0x0064, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(v4(hi, lo)),
        // 6to4 2002:AABB:CCDD::/48.
        [0x2002, hi, lo, ..] => Some(v4(hi, lo)),
        _ => None,
    }
}

/// Why `ip` is refused as an upstream address, or `None` if it is public (the tests' view of
/// `category`).
#[cfg(test)]
fn classify(ip: IpAddr) -> Option<&'static str> {
    category(ip).map(Category::reason)
}

/// Which addresses an upstream may use.
#[derive(Debug, Clone, Copy, Default)]
pub struct SsrfPolicy {
    /// Allows loopback, private, CGNAT and unique-local addresses (local models,
    /// tests). Link-local, unspecified, multicast, broadcast and reserved
    /// addresses stay refused regardless.
    pub allow_private: bool,
}

impl SsrfPolicy {
    /// `Err` carries the same reason string as [`classify`].
    pub(crate) fn check_ip(&self, ip: IpAddr) -> Result<(), &'static str> {
        match category(ip) {
            None => Ok(()),
            Some(c) if self.allow_private && c.liftable() => Ok(()),
            Some(c) => Err(c.reason()),
        }
    }

    fn check(&self, host: &str, ip: IpAddr) -> Result<(), SsrfError> {
        self.check_ip(ip).map_err(|reason| SsrfError::Blocked {
            host: host.to_owned(),
            addr: ip,
            reason,
        })
    }
}

fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Parses and checks an upstream base URL. IP-literal hosts are checked here
/// because no resolver ever sees them; DNS names are only checked at connect
/// time (see [`resolve_checked`] and [`GuardedResolver`]) since their answers
/// can change after saving.
pub(crate) fn validate_url(raw: &str, policy: SsrfPolicy) -> Result<Url, SsrfError> {
    let url = Url::parse(raw).map_err(|e| SsrfError::InvalidUrl(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SsrfError::Scheme(url.scheme().to_owned()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(SsrfError::Credentials);
    }
    // `url` already normalises the WHATWG IPv4 spellings (2130706433, 0x7f.1,
    // 127.1), so these arrive here as real addresses, not as domain names.
    match url.host() {
        None => return Err(SsrfError::MissingHost),
        Some(Host::Ipv4(v4)) => policy.check(&v4.to_string(), IpAddr::V4(v4))?,
        Some(Host::Ipv6(v6)) => policy.check(&v6.to_string(), IpAddr::V6(v6))?,
        Some(Host::Domain(domain)) => {
            let name = domain.trim_end_matches('.');
            if name.is_empty() {
                return Err(SsrfError::MissingHost);
            }
            // RFC 6761 pins these to loopback; refusing them up front gives the
            // admin a clear message at save time instead of at first request.
            if name == "localhost" || name.ends_with(".localhost") {
                policy.check(name, IpAddr::V4(Ipv4Addr::LOCALHOST))?;
            }
        }
    }
    Ok(url)
}

/// Resolves `host` and checks every answer. All must pass: a name that returns
/// one public and one private address is refused, since the connector may pick
/// either.
pub(crate) async fn resolve_checked(
    host: &str,
    port: u16,
    policy: SsrfPolicy,
) -> Result<Vec<SocketAddr>, SsrfError> {
    if let Ok(ip) = strip_brackets(host).parse::<IpAddr>() {
        policy.check(host, ip)?;
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| SsrfError::Resolve {
            host: host.to_owned(),
            message: e.to_string(),
        })?
        .collect();
    if addrs.is_empty() {
        return Err(SsrfError::Resolve {
            host: host.to_owned(),
            message: "no addresses found".to_owned(),
        });
    }
    for addr in &addrs {
        policy.check(host, addr.ip())?;
    }
    Ok(addrs)
}

/// reqwest DNS resolver that only hands out addresses it has checked, so the
/// socket connects to exactly what was validated and DNS rebinding between a
/// check and the connect has nothing to exploit.
///
/// Gaps the caller must close:
/// - reqwest does not call the resolver for IP-literal hosts
///   (`http://10.0.0.5/`), so run [`validate_url`] on the URL before every
///   request, not only when the upstream is saved.
/// - Redirects are not re-validated: a `Location: http://169.254.169.254/`
///   would bypass the resolver too. Use `redirect::Policy::none()` (or a
///   custom policy that calls [`validate_url`] on each hop).
/// - With an HTTP proxy configured, the resolver only sees the proxy's name
///   and the proxy reaches the upstream unchecked; build with `.no_proxy()`.
#[derive(Debug, Clone)]
pub(crate) struct GuardedResolver {
    policy: SsrfPolicy,
}

impl GuardedResolver {
    pub(crate) fn new(policy: SsrfPolicy) -> Self {
        Self { policy }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0 is replaced by reqwest with the URL's (or the scheme's) port.
            let addrs = resolve_checked(&host, 0, policy).await?;
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(addrs)
        })
    }
}

/// The same resolver for hyper's connector, which the proxy's own client uses.
impl tower::Service<hyper_util::client::legacy::connect::dns::Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = SsrfError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Self::Response, SsrfError>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), SsrfError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: hyper_util::client::legacy::connect::dns::Name) -> Self::Future {
        let policy = self.policy;
        Box::pin(async move {
            // Port 0 is replaced by the connector with the URL's (or the scheme's) port.
            resolve_checked(name.as_str(), 0, policy)
                .await
                .map(Vec::into_iter)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::text::error_chain;

    const STRICT: SsrfPolicy = SsrfPolicy {
        allow_private: false,
    };
    const LOCAL: SsrfPolicy = SsrfPolicy {
        allow_private: true,
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or_else(|_| panic!("bad test ip {s}"))
    }

    #[test]
    fn classify_ipv4_refused() {
        let cases = [
            ("127.0.0.1", "loopback"),
            ("127.255.255.254", "loopback"),
            ("10.0.0.5", "private"),
            ("10.255.255.255", "private"),
            ("172.16.0.1", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", Category::LinkLocal.reason()),
            ("169.254.0.1", Category::LinkLocal.reason()),
            ("100.64.0.1", Category::SharedCgnat.reason()),
            ("100.127.255.255", Category::SharedCgnat.reason()),
            ("0.0.0.0", "unspecified"),
            ("0.1.2.3", Category::ThisNetwork.reason()),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.1", "multicast"),
            ("239.255.255.250", "multicast"),
            ("240.0.0.1", "reserved"),
            ("254.1.2.3", "reserved"),
            ("192.0.2.1", Category::Documentation.reason()),
            ("198.51.100.7", Category::Documentation.reason()),
            ("203.0.113.9", Category::Documentation.reason()),
        ];
        for (addr, reason) in cases {
            assert_eq!(classify(ip(addr)), Some(reason), "{addr}");
        }
    }

    #[test]
    fn classify_ipv4_public() {
        for addr in [
            "8.8.8.8",
            "1.1.1.1",
            "11.0.0.1",
            "126.255.255.255",
            "128.0.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.167.255.255",
            "192.169.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.255.255",
            "169.255.0.1",
            "223.255.255.255",
            "198.18.0.1",
        ] {
            assert_eq!(classify(ip(addr)), None, "{addr}");
        }
    }

    #[test]
    fn classify_ipv6_refused() {
        let cases = [
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fc00::1", Category::UniqueLocal.reason()),
            ("fd12:3456:789a::1", Category::UniqueLocal.reason()),
            ("fe80::1", Category::LinkLocal.reason()),
            ("febf:ffff::1", Category::LinkLocal.reason()),
            ("fec0::1", Category::UniqueLocal.reason()),
            ("ff02::1", "multicast"),
            ("ff0e::1", "multicast"),
            ("2001:db8::1", Category::Documentation.reason()),
            ("64:ff9b:1::a00:1", "private"),
        ];
        for (addr, reason) in cases {
            assert_eq!(classify(ip(addr)), Some(reason), "{addr}");
        }
    }

    #[test]
    fn classify_ipv6_public() {
        for addr in [
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001::200e",
            "fbff::1",
            "fe7f::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert_eq!(classify(ip(addr)), None, "{addr}");
        }
    }

    #[test]
    fn classify_embedded_ipv4_uses_ipv4_rules() {
        let cases = [
            // IPv4-mapped and IPv4-translated
            ("::ffff:127.0.0.1", "127.0.0.1"),
            ("::ffff:10.0.0.1", "10.0.0.1"),
            ("::ffff:169.254.169.254", "169.254.169.254"),
            ("::ffff:0.0.0.0", "0.0.0.0"),
            ("::ffff:0:192.168.0.1", "192.168.0.1"),
            // IPv4-compatible
            ("::127.0.0.1", "127.0.0.1"),
            ("::10.1.2.3", "10.1.2.3"),
            ("::100.64.0.1", "100.64.0.1"),
            // NAT64
            ("64:ff9b::a00:1", "10.0.0.1"),
            ("64:ff9b::169.254.169.254", "169.254.169.254"),
            ("64:ff9b::7f00:1", "127.0.0.1"),
            // 6to4: embedded address sits in bits 16..48
            ("2002:7f00:1::1", "127.0.0.1"),
            ("2002:a9fe:a9fe::", "169.254.169.254"),
            ("2002:c0a8:101:1::1", "192.168.1.1"),
            ("2002:e000:1::", "224.0.0.1"),
        ];
        for (v6, v4) in cases {
            let want = classify(ip(v4));
            assert!(want.is_some(), "{v4} should be refused");
            assert_eq!(classify(ip(v6)), want, "{v6}");
        }
    }

    #[test]
    fn strict_policy_refuses_everything_classify_refuses() {
        for addr in ["127.0.0.1", "10.1.2.3", "100.64.0.1", "fd00::1", "::1"] {
            assert_eq!(STRICT.check_ip(ip(addr)), Err(classify(ip(addr)).unwrap()));
        }
        assert_eq!(STRICT.check_ip(ip("8.8.8.8")), Ok(()));
        assert_eq!(
            SsrfPolicy::default().check_ip(ip("10.0.0.1")),
            Err("private")
        );
    }

    #[test]
    fn allow_private_lifts_only_local_ranges() {
        for addr in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.2",
            "192.168.1.10",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "64:ff9b::a01:203",
            "2002:c0a8:101::1",
            "8.8.8.8",
        ] {
            assert_eq!(LOCAL.check_ip(ip(addr)), Ok(()), "{addr}");
        }
        for addr in [
            "169.254.169.254",
            "fe80::1",
            "::ffff:169.254.169.254",
            "2002:a9fe:a9fe::1",
            "0.0.0.0",
            "0.1.2.3",
            "::",
            "::ffff:0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "ff02::1",
            "240.0.0.1",
            "192.0.2.1",
        ] {
            assert!(LOCAL.check_ip(ip(addr)).is_err(), "{addr}");
        }
    }

    #[test]
    fn blocked_message_hints_only_when_the_flag_would_help() {
        let err = STRICT.check("10.0.0.5", ip("10.0.0.5")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "upstream address 10.0.0.5 is private (set ALLOW_PRIVATE_UPSTREAMS=true for local models)"
        );
        let err = STRICT
            .check("metadata.internal", ip("169.254.169.254"))
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("169.254.169.254 (host metadata.internal)"),
            "{msg}"
        );
        assert!(msg.contains("link-local"), "{msg}");
        assert!(!msg.contains("ALLOW_PRIVATE_UPSTREAMS"), "{msg}");
    }

    #[test]
    fn validate_url_rejects_bad_schemes_and_shapes() {
        assert!(matches!(
            validate_url("not a url", STRICT),
            Err(SsrfError::InvalidUrl(_))
        ));
        assert_eq!(
            validate_url("ftp://example.com/", STRICT),
            Err(SsrfError::Scheme("ftp".into()))
        );
        assert_eq!(
            validate_url("file:///etc/passwd", LOCAL),
            Err(SsrfError::Scheme("file".into()))
        );
        assert_eq!(
            validate_url("gopher://127.0.0.1:6379/_", LOCAL),
            Err(SsrfError::Scheme("gopher".into()))
        );
        assert!(matches!(
            validate_url("http://", STRICT),
            Err(SsrfError::InvalidUrl(_))
        ));
    }

    #[test]
    fn validate_url_rejects_credentials_without_leaking_them() {
        for raw in [
            "http://user:hunter2@example.com/v1",
            "https://user@example.com/",
            "https://:hunter2@example.com/",
        ] {
            let err = validate_url(raw, LOCAL).unwrap_err();
            assert_eq!(err, SsrfError::Credentials, "{raw}");
            assert!(!err.to_string().contains("hunter2"));
        }
    }

    #[test]
    fn validate_url_checks_ip_literals() {
        for raw in [
            "http://[::1]/v1",
            "http://169.254.169.254/latest",
            "http://127.0.0.1:11434/",
            "http://10.0.0.5/v1",
            "http://[::ffff:127.0.0.1]/",
            "http://[fd00::1]:8080/",
            "http://0.0.0.0:8080/",
            // WHATWG alternative IPv4 spellings of 127.0.0.1
            "http://2130706433/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://0177.0.0.1/",
        ] {
            assert!(
                matches!(validate_url(raw, STRICT), Err(SsrfError::Blocked { .. })),
                "{raw}"
            );
        }
        let err = validate_url("http://169.254.169.254/latest", LOCAL).unwrap_err();
        assert!(matches!(err, SsrfError::Blocked { addr, .. } if addr == ip("169.254.169.254")));
        assert!(validate_url("http://[fe80::1]/", LOCAL).is_err());
        assert!(validate_url("http://[::1]:11434/v1", LOCAL).is_ok());
        assert!(validate_url("http://10.0.0.5/v1", LOCAL).is_ok());
    }

    #[test]
    fn validate_url_handles_localhost_names() {
        for raw in [
            "http://localhost:8080",
            "http://LOCALHOST/",
            "http://localhost./",
            "http://api.localhost/v1",
        ] {
            let err = validate_url(raw, STRICT).unwrap_err();
            assert!(
                matches!(
                    &err,
                    SsrfError::Blocked {
                        reason: "loopback",
                        ..
                    }
                ),
                "{raw}: {err:?}"
            );
            assert!(validate_url(raw, LOCAL).is_ok(), "{raw}");
        }
        // Only the label, not a substring, makes a name local.
        assert!(validate_url("https://localhost.example.com/", STRICT).is_ok());
        assert!(validate_url("https://notlocalhost/", STRICT).is_ok());
    }

    #[test]
    fn validate_url_accepts_public_upstreams_and_keeps_the_path() {
        let url = validate_url("https://api.openai.com/v1", STRICT).unwrap();
        assert_eq!(url.as_str(), "https://api.openai.com/v1");
        assert_eq!(url.path(), "/v1");
        let url = validate_url("http://8.8.8.8:8080/api/v1/", STRICT).unwrap();
        assert_eq!(url.path(), "/api/v1/");
        assert_eq!(url.port(), Some(8080));
        assert!(validate_url("https://[2606:4700::1111]/v1", STRICT).is_ok());
    }

    #[tokio::test]
    async fn resolve_checked_localhost_depends_on_policy() {
        let err = resolve_checked("localhost", 80, STRICT).await.unwrap_err();
        assert!(
            matches!(&err, SsrfError::Blocked { host, reason: "loopback", .. } if host == "localhost"),
            "{err:?}"
        );
        let addrs = resolve_checked("localhost", 80, LOCAL).await.unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
    }

    #[tokio::test]
    async fn resolve_checked_literals_skip_dns() {
        assert_eq!(
            resolve_checked("[::1]", 443, LOCAL).await.unwrap(),
            vec![SocketAddr::new(ip("::1"), 443)]
        );
        assert!(matches!(
            resolve_checked("169.254.169.254", 80, LOCAL).await,
            Err(SsrfError::Blocked { .. })
        ));
    }

    #[tokio::test]
    async fn guarded_resolver_refuses_or_yields_checked_addresses() {
        use reqwest::dns::Resolve as _;
        let name = |s: &str| s.parse::<reqwest::dns::Name>().unwrap();
        let err = GuardedResolver::new(STRICT)
            .resolve(name("localhost"))
            .await
            .err()
            .expect("localhost must be refused");
        assert!(err.to_string().contains("loopback"), "{err}");
        let addrs: Vec<_> = GuardedResolver::new(LOCAL)
            .resolve(name("localhost"))
            .await
            .unwrap()
            .collect();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }

    /// Minimal HTTP server on 127.0.0.1; one request per connection.
    async fn spawn_ok_server() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(answer_ok(stream));
            }
        });
        port
    }

    // Uses readiness + try_read/try_write because the allowed tokio features
    // do not include io-util.
    async fn answer_ok(stream: tokio::net::TcpStream) {
        use std::io::ErrorKind::WouldBlock;
        let mut request = Vec::new();
        let mut chunk = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            if stream.readable().await.is_err() {
                return;
            }
            match stream.try_read(&mut chunk) {
                Ok(0) => return,
                Ok(n) => request.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == WouldBlock => {}
                Err(_) => return,
            }
        }
        let mut out: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        while !out.is_empty() {
            if stream.writable().await.is_err() {
                return;
            }
            match stream.try_write(out) {
                Ok(n) => out = &out[n..],
                Err(e) if e.kind() == WouldBlock => {}
                Err(_) => return,
            }
        }
    }

    /// The gateway's own reqwest client (the connection tester's).
    fn guarded_client(policy: SsrfPolicy) -> reqwest::Client {
        crate::server::http::upstream_client::UpstreamClients::new(policy)
            .unwrap()
            .tester()
            .clone()
    }

    #[tokio::test]
    async fn end_to_end_default_policy_refuses_localhost() {
        let port = spawn_ok_server().await;
        let err = guarded_client(STRICT)
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .expect_err("must not connect to localhost");
        let chain = error_chain(&err);
        assert!(chain.contains("is loopback"), "{chain}");
    }

    #[tokio::test]
    async fn end_to_end_allow_private_reaches_localhost() {
        let port = spawn_ok_server().await;
        let resp = guarded_client(LOCAL)
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.text().await.unwrap(), "ok");
    }

    /// Pins the documented gap: IP literals never reach the resolver, which is
    /// why `validate_url` must run before every request.
    #[tokio::test]
    async fn ip_literals_bypass_the_resolver_so_validate_url_is_required() {
        let port = spawn_ok_server().await;
        let raw = format!("http://127.0.0.1:{port}/");
        let resp = guarded_client(STRICT).get(&raw).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(matches!(
            validate_url(&raw, STRICT),
            Err(SsrfError::Blocked { .. })
        ));
        // The same holds for the proxy's client; the routing table checks literal hosts.
        assert_eq!(proxy_get(STRICT, &raw).await.unwrap(), 200);
    }

    /// A GET through the proxy's own client (hyper, not reqwest): the status, or the error chain.
    async fn proxy_get(policy: SsrfPolicy, url: &str) -> Result<u16, String> {
        let target = crate::server::proxy::upstream_target::UpstreamTarget::parse(url).unwrap();
        let request = hyper::Request::get(target.uri("", None).unwrap())
            .body(http_body_util::Full::new(bytes::Bytes::new()))
            .unwrap();
        crate::server::http::upstream_client::build_proxy(policy)
            .send(target.origin(), request)
            .await
            .map(|r| r.status().as_u16())
            .map_err(|e| error_chain(&e))
    }

    #[tokio::test]
    async fn the_proxy_client_resolves_through_the_guard() {
        let port = spawn_ok_server().await;
        let url = format!("http://localhost:{port}/");
        let chain = proxy_get(STRICT, &url).await.expect_err("must not connect");
        assert!(chain.contains("is loopback"), "{chain}");
        assert_eq!(proxy_get(LOCAL, &url).await, Ok(200));
    }
}
