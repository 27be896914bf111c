//! Who the client is and whether it came over HTTPS: the peer's own address, unless the peer is
//! a reverse proxy named in `TRUSTED_PROXIES`, whose forwarding headers are then believed. With
//! none configured (the default), `X-Forwarded-*` and `Forwarded` claim nothing.
use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|net| net.contains(&ip))
}

/// The connection's peer (loopback when the request came without one, as in-process calls do).
pub(crate) fn peer_of(extensions: &Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

/// The client's address: behind trusted proxies, the right-most `X-Forwarded-For` hop that is
/// not itself a trusted proxy (the left-most hops are whatever the client chose to write).
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> IpAddr {
    if !trusted(peer, proxies) {
        return peer;
    }
    let hops: Vec<IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse().ok())
        .collect();
    hops.iter()
        .rev()
        .find(|ip| !trusted(**ip, proxies))
        .or(hops.first())
        .copied()
        .unwrap_or(peer)
}

/// The unit one client is judged by: an IPv4 address, or the /64 of an IPv6 address.
pub(crate) fn source_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut s = v6.segments();
                s[4..].fill(0);
                IpAddr::from(s)
            }
        },
    }
}

/// Whether the browser reached us over HTTPS through a trusted TLS-terminating proxy.
pub(crate) fn forwarded_https(peer: IpAddr, headers: &HeaderMap, proxies: &[IpNet]) -> bool {
    trusted(peer, proxies) && request_is_https(headers)
}

/// Whether the forwarding headers say the client reached the proxy over HTTPS.
fn request_is_https(headers: &axum::http::HeaderMap) -> bool {
    let forwarded_proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("https")
        })
        .unwrap_or(false);
    let forwarded = headers
        .get("forwarded")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.to_ascii_lowercase().contains("proto=https"))
        .unwrap_or(false);
    forwarded_proto || forwarded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let stranger: IpAddr = "203.0.113.7".parse().unwrap();
        let nets: Vec<IpNet> = vec!["10.0.0.0/24".parse().unwrap()];
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1, 198.51.100.9"),
            ("x-forwarded-for", "10.0.0.4"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(client_ip(stranger, &h, &nets), stranger);
        assert_eq!(
            client_ip(proxy, &h, &[]),
            proxy,
            "nothing is trusted by default"
        );
        assert_eq!(
            client_ip(proxy, &h, &nets),
            "198.51.100.9".parse::<IpAddr>().unwrap(),
            "the hop before our own proxies, not what the client wrote first"
        );
        assert!(forwarded_https(proxy, &h, &nets));
        assert!(!forwarded_https(stranger, &h, &nets));
        assert!(!forwarded_https(proxy, &h, &[]));
        assert_eq!(client_ip(proxy, &HeaderMap::new(), &nets), proxy);
    }
}
