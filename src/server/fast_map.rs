//! The map for the proxy's hot path, keyed by ids the gateway made (so a fast hasher is safe).
//!
//! foldhash (seeded per process) is several times cheaper than std's SipHash but is not built to
//! resist collision attacks. So it is only for maps whose keys a client cannot choose: ids the
//! gateway generated (upstreams, keys), origins an admin configured, and digests of keys that
//! passed bcrypt. Maps a client can fill, such as the digests of rejected keys, keep std's hasher.
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
