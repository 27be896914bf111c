//! The HTTP clients for upstreams. Every client resolves names through the SSRF-guarded resolver
//! and never follows redirects (an upstream must not bounce us to an internal address).
//!
//! The proxy sends through its own connection pool, one per thread ([`UpstreamPool`]): a pooled
//! upstream connection is driven by a task on the runtime that opened it, so a thread that uses
//! only its own pool never wakes another to send a request or read an answer. The connection
//! tester uses one reqwest client, whose conveniences cost per request (it parses the URL twice
//! and runs a redirect service) what the hot path should not pay.
use std::sync::Arc;
use std::time::Duration;

use hyper_rustls::HttpsConnectorBuilder;
use hyper_util::client::legacy::connect::HttpConnector;
use thread_local::ThreadLocal;

use super::upstream_pool::{Connector, UpstreamPool};
use crate::server::http::ssrf::{GuardedResolver, SsrfPolicy};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

pub(crate) struct UpstreamClients {
    policy: SsrfPolicy,
    /// Built at start-up, so a client that cannot be built stops the start, not a request.
    tester: reqwest::Client,
    proxy: ThreadLocal<UpstreamPool>,
}

impl UpstreamClients {
    pub(crate) fn new(policy: SsrfPolicy) -> Result<Self, reqwest::Error> {
        Ok(Self {
            policy,
            tester: build_tester(policy)?,
            proxy: ThreadLocal::new(),
        })
    }

    /// The connection tester's client (off the proxy path).
    pub(crate) fn tester(&self) -> &reqwest::Client {
        &self.tester
    }

    /// This thread's upstream connections.
    pub(crate) fn proxy(&self) -> &UpstreamPool {
        self.proxy.get_or(|| build_proxy(self.policy))
    }
}

fn build_tester(policy: SsrfPolicy) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver::new(policy)))
        .redirect(reqwest::redirect::Policy::none())
        // A configured HTTP proxy would be the only address the resolver checks.
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .tcp_nodelay(true)
        .build()
}

/// The proxy's connections: HTTP/1.1 over TCP or TLS (webpki roots). The pool follows no
/// redirects and knows no HTTP proxy, so the resolver sees every name it connects to. IP-literal
/// hosts skip the resolver: the routing table checks those.
pub fn build_proxy(policy: SsrfPolicy) -> UpstreamPool {
    UpstreamPool::new(connector(policy), POOL_IDLE_TIMEOUT)
}

/// TCP with the guarded resolver, then TLS for `https` origins.
pub(crate) fn connector(policy: SsrfPolicy) -> Connector {
    let mut tcp = HttpConnector::new_with_resolver(GuardedResolver::new(policy));
    tcp.enforce_http(false);
    tcp.set_nodelay(true);
    tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
    HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp)
}
