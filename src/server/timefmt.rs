//! Unix-millisecond timestamps (how the database stores time) to and from RFC 3339 (how JSON shows it).
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn to_rfc3339(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

pub(crate) fn parse_rfc3339(s: &str) -> Result<i64, String> {
    let t = OffsetDateTime::parse(s.trim(), &Rfc3339)
        .map_err(|_| format!("{s:?} is not an RFC 3339 time such as 2030-01-31T12:00:00Z"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let ms = parse_rfc3339("2030-01-31T12:00:00.250Z").unwrap();
        assert_eq!(ms, 1_896_091_200_250);
        assert_eq!(to_rfc3339(ms), "2030-01-31T12:00:00.25Z");
        assert_eq!(
            parse_rfc3339("2030-01-31T20:00:00+08:00").unwrap(),
            1_896_091_200_000
        );
        assert!(parse_rfc3339("tomorrow").is_err());
    }
}
