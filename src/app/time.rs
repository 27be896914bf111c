//! Times as the pages show them: UTC RFC 3339 from the server, shown in the viewer's zone.

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(year, month, day)` of a day number since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Minutes since the epoch of `YYYY-MM-DDTHH:MM...` read as UTC; `None` if it is not one.
fn utc_minutes(rfc3339: &str) -> Option<i64> {
    let num = |a: usize, b: usize| rfc3339.get(a..b).and_then(|s| s.parse::<i64>().ok());
    let days = days_from_civil(num(0, 4)?, num(5, 7)?, num(8, 10)?);
    Some(days * 1_440 + num(11, 13)? * 60 + num(14, 16)?)
}

/// Whose clock times are shown in: UTC while rendering on the server and until the page has
/// hydrated (so both render the same text), then the browser's own zone. The browser's offset is
/// asked for each timestamp, so times on both sides of a daylight-saving change are each right.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Zone {
    #[default]
    Utc,
    Browser,
}

impl Zone {
    /// The zone's offset from UTC at `ms`, in minutes (UTC+8 gives 480).
    pub fn offset_minutes_at(self, ms: i64) -> i32 {
        match self {
            Zone::Utc => 0,
            Zone::Browser => browser_offset_minutes_at(ms),
        }
    }
}

/// The viewer's zone: the browser's in the browser, UTC on the server.
pub fn browser_zone() -> Zone {
    if cfg!(target_arch = "wasm32") {
        Zone::Browser
    } else {
        Zone::Utc
    }
}

/// The browser's offset from UTC at the instant `ms`, by its own time-zone rules.
fn browser_offset_minutes_at(ms: i64) -> i32 {
    #[cfg(target_arch = "wasm32")]
    {
        // getTimezoneOffset is minutes *behind* UTC, at that date.
        let date = web_sys::js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
        -(date.get_timezone_offset() as i32)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = ms;
        0
    }
}

/// A bucket's label in the viewer's time: `HH:00` for hours, `MM-DD` for days.
pub fn bucket_label(rfc3339_utc: &str, zone: Zone, hourly: bool) -> String {
    bucket_label_by(rfc3339_utc, |ms| zone.offset_minutes_at(ms), hourly)
}

fn bucket_label_by(rfc3339_utc: &str, offset_at: impl Fn(i64) -> i32, hourly: bool) -> String {
    let utc = utc_minutes(rfc3339_utc).unwrap_or(0);
    let minutes = utc + i64::from(offset_at(utc * 60_000));
    if hourly {
        format!("{:02}:00", minutes.rem_euclid(1_440) / 60)
    } else {
        let (_, m, d) = civil_from_days(minutes.div_euclid(1_440));
        format!("{m:02}-{d:02}")
    }
}

/// `YYYY-MM-DD HH:MM:SS` in the viewer's zone; `—` for none.
pub fn local_time(rfc3339_utc: Option<&str>, zone: Zone) -> String {
    local_time_by(rfc3339_utc, |ms| zone.offset_minutes_at(ms))
}

fn local_time_by(rfc3339_utc: Option<&str>, offset_at: impl Fn(i64) -> i32) -> String {
    let Some(t) = rfc3339_utc else {
        return "—".into();
    };
    let Some(utc) = utc_minutes(t) else {
        return t.to_string();
    };
    let minutes = utc + i64::from(offset_at(utc * 60_000));
    let (y, m, d) = civil_from_days(minutes.div_euclid(1_440));
    let hm = minutes.rem_euclid(1_440);
    let secs = t.get(17..19).unwrap_or("00");
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{secs}", hm / 60, hm % 60)
}

/// RFC 3339 UTC (seconds) of milliseconds since the epoch.
pub fn rfc3339_of_ms(ms: i64) -> String {
    let secs = ms.div_euclid(1_000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3_600,
        s % 3_600 / 60,
        s % 60
    )
}

/// Milliseconds since the epoch, by the browser's clock (the server's while rendering).
pub fn now_ms() -> i64 {
    #[cfg(target_arch = "wasm32")]
    {
        web_sys::js_sys::Date::now() as i64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_viewers_zone() {
        let fixed = |m: i32| move |_: i64| m;
        assert_eq!(
            bucket_label("2030-01-31T16:00:00Z", Zone::Utc, true),
            "16:00"
        );
        assert_eq!(
            bucket_label_by("2030-01-31T16:00:00Z", fixed(480), true),
            "00:00"
        );
        assert_eq!(
            bucket_label_by("2030-01-31T16:00:00Z", fixed(480), false),
            "02-01"
        );
        assert_eq!(
            bucket_label_by("2030-03-01T00:00:00Z", fixed(-60), false),
            "02-28"
        );
        assert_eq!(
            bucket_label_by("2028-03-01T00:00:00Z", fixed(-60), false),
            "02-29"
        );
    }

    #[test]
    fn local_times_cross_days_and_years() {
        assert_eq!(
            local_time_by(Some("2030-12-31T20:15:09.123Z"), |_| 480),
            "2031-01-01 04:15:09"
        );
        assert_eq!(
            local_time_by(Some("2030-01-01T00:00:00Z"), |_| -1),
            "2029-12-31 23:59:00"
        );
        assert_eq!(local_time(None, Zone::Utc), "—");
        assert_eq!(
            local_time(Some("2030-01-01T00:00:00Z"), Zone::Utc),
            "2030-01-01 00:00:00"
        );
    }

    /// Central European rules for 2026: UTC+1, and UTC+2 from 29 March 01:00 UTC.
    fn berlin(ms: i64) -> i32 {
        if ms >= 1_774_746_000_000 {
            120
        } else {
            60
        }
    }

    #[test]
    fn each_time_gets_the_offset_of_its_own_date() {
        // Half an hour before and after the change: 01:30 CET, then 03:30 CEST.
        assert_eq!(
            local_time_by(Some("2026-03-29T00:30:00Z"), berlin),
            "2026-03-29 01:30:00"
        );
        assert_eq!(
            local_time_by(Some("2026-03-29T01:30:00Z"), berlin),
            "2026-03-29 03:30:00"
        );
        assert_eq!(
            bucket_label_by("2026-03-29T00:00:00Z", berlin, true),
            "01:00"
        );
        assert_eq!(
            bucket_label_by("2026-03-29T01:00:00Z", berlin, true),
            "03:00"
        );
    }

    #[test]
    fn milliseconds_format_as_utc() {
        assert_eq!(rfc3339_of_ms(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_of_ms(1_709_251_199_999), "2024-02-29T23:59:59Z");
    }
}
