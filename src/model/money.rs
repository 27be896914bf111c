//! Money as the gateway counts it: integer nano-USD (1e-9 USD), so sums never drift; USD as a
//! JSON number only at the edge.

/// Nano-USD in one USD.
pub const NANOS_PER_USD: i64 = 1_000_000_000;

/// The largest amount an admin may set (a budget or quota): ten million USD.
pub const MAX_USD: f64 = 10_000_000.0;

/// USD for display and the wire.
pub fn usd(nanos: i64) -> f64 {
    nanos as f64 / NANOS_PER_USD as f64
}

/// An amount given in USD, to the nano-dollar; `None` unless it is finite, at least 0 and at
/// most `MAX_USD`.
pub fn nanos_from_usd(usd: f64) -> Option<i64> {
    (usd.is_finite() && (0.0..=MAX_USD).contains(&usd))
        .then(|| (usd * NANOS_PER_USD as f64).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_round_trip_to_the_nano_dollar() {
        assert_eq!(nanos_from_usd(0.1), Some(100_000_000));
        assert_eq!(nanos_from_usd(12.345678912), Some(12_345_678_912));
        assert_eq!(usd(1_500_000_000), 1.5);
        assert_eq!(nanos_from_usd(-0.01), None);
        assert_eq!(nanos_from_usd(f64::NAN), None);
        assert_eq!(nanos_from_usd(MAX_USD + 1.0), None);
    }
}
