//! The HTTP client for upstreams, one per thread: a pooled upstream connection is driven by a
//! task on the runtime that opened it, so a thread that uses only its own pool never wakes
//! another to send a request or read an answer. Every client resolves names through the
//! SSRF-guarded resolver and never follows redirects (an upstream must not bounce us to an
//! internal address).
use std::sync::Arc;
use std::time::Duration;

use thread_local::ThreadLocal;

use crate::server::proxy::ssrf::{GuardedResolver, SsrfPolicy};

pub struct UpstreamClients {
    policy: SsrfPolicy,
    /// Built at start-up, so a client that cannot be built stops the start, not a request.
    first: reqwest::Client,
    per_thread: ThreadLocal<reqwest::Client>,
}

impl UpstreamClients {
    pub fn new(policy: SsrfPolicy) -> Result<Self, reqwest::Error> {
        Ok(Self {
            policy,
            first: build(policy)?,
            per_thread: ThreadLocal::new(),
        })
    }

    /// This thread's client.
    pub fn get(&self) -> &reqwest::Client {
        self.per_thread
            .get_or(|| build(self.policy).unwrap_or_else(|_| self.first.clone()))
    }
}

fn build(policy: SsrfPolicy) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver::new(policy)))
        .redirect(reqwest::redirect::Policy::none())
        // A configured HTTP proxy would be the only address the resolver checks.
        .no_proxy()
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .build()
}
