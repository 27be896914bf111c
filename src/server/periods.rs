//! Budget periods: the day and the calendar month that budgets and quotas count in, in one
//! IANA time zone (`BUDGET_TIMEZONE`, UTC by default), daylight-saving changes included.
use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// One day or month in the budget zone: `id` names it (`2026-12-06`, `2026-12`), `key` names
/// its counters (`d:2026-12-06`, `m:2026-12`), and it runs from `start_ms` (inclusive) to
/// `end_ms` (exclusive).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Period {
    pub id: String,
    pub key: std::sync::Arc<str>,
    pub start_ms: i64,
    pub end_ms: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct BudgetZone {
    tz: TimeZone,
}

impl Default for BudgetZone {
    fn default() -> Self {
        Self { tz: TimeZone::UTC }
    }
}

impl BudgetZone {
    /// An IANA zone name such as `Asia/Shanghai`, or `UTC`.
    pub(crate) fn parse(name: &str) -> Result<Self, String> {
        let name = name.trim();
        if name.is_empty() || name.eq_ignore_ascii_case("utc") {
            return Ok(Self::default());
        }
        TimeZone::get(name)
            .map(|tz| Self { tz })
            .map_err(|e| format!("unknown time zone {name:?}: {e}"))
    }

    fn date_of(&self, ms: i64) -> Date {
        Timestamp::from_millisecond(ms)
            .unwrap_or(Timestamp::UNIX_EPOCH)
            .to_zoned(self.tz.clone())
            .date()
    }

    /// The first instant of `date` in the zone (a day that starts inside a gap starts at the
    /// gap's end).
    fn start_of(&self, date: Date) -> i64 {
        date.to_zoned(self.tz.clone())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(0)
    }

    /// The day holding `now_ms`.
    pub(crate) fn day(&self, now_ms: i64) -> Period {
        self.day_of(self.date_of(now_ms))
    }

    fn day_of(&self, date: Date) -> Period {
        let next = date.tomorrow().unwrap_or(date);
        Period {
            key: format!("d:{date}").into(),
            id: date.to_string(),
            start_ms: self.start_of(date),
            end_ms: self.start_of(next),
        }
    }

    /// The calendar month holding `now_ms`.
    pub(crate) fn month(&self, now_ms: i64) -> Period {
        let date = self.date_of(now_ms);
        let first = date.first_of_month();
        let next = first
            .checked_add(jiff::Span::new().months(1))
            .unwrap_or(first);
        let id = format!("{:04}-{:02}", date.year(), date.month());
        Period {
            key: format!("m:{id}").into(),
            id,
            start_ms: self.start_of(first),
            end_ms: self.start_of(next),
        }
    }

    /// The `count` days up to and including today, oldest first.
    pub(crate) fn last_days(&self, now_ms: i64, count: u32) -> Vec<Period> {
        let today = self.date_of(now_ms);
        (0..count as i64)
            .rev()
            .filter_map(|back| today.checked_sub(jiff::Span::new().days(back)).ok())
            .map(|date| self.day_of(date))
            .collect()
    }
}

/// The current day and month, worked out again only when the day turns (a request of a key
/// with a budget asks for them; a zone conversion per request would be waste).
#[derive(Debug)]
pub(crate) struct CurrentPeriods {
    zone: BudgetZone,
    now: parking_lot::RwLock<std::sync::Arc<(Period, Period)>>,
}

impl CurrentPeriods {
    pub(crate) fn new(zone: BudgetZone) -> Self {
        let first = (zone.day(0), zone.month(0));
        Self {
            zone,
            now: parking_lot::RwLock::new(std::sync::Arc::new(first)),
        }
    }

    /// The day and the month holding `now_ms`.
    pub(crate) fn at(&self, now_ms: i64) -> std::sync::Arc<(Period, Period)> {
        let current = self.now.read().clone();
        if (current.0.start_ms..current.0.end_ms).contains(&now_ms) {
            return current;
        }
        let fresh = std::sync::Arc::new((self.zone.day(now_ms), self.zone.month(now_ms)));
        *self.now.write() = fresh.clone();
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-12-06T13:21:56Z
    const NOW: i64 = 1_796_563_316_000;

    #[test]
    fn utc_days_and_months() {
        let z = BudgetZone::default();
        let d = z.day(NOW);
        assert_eq!(d.id, "2026-12-06");
        assert_eq!(d.start_ms % 86_400_000, 0);
        assert_eq!(d.end_ms - d.start_ms, 86_400_000);
        assert!(d.start_ms <= NOW && NOW < d.end_ms);
        let m = z.month(NOW);
        assert_eq!(m.id, "2026-12");
        assert_eq!(m.end_ms - m.start_ms, 31 * 86_400_000);
    }

    #[test]
    fn a_zone_east_of_utc_starts_its_day_earlier() {
        let z = BudgetZone::parse("Asia/Shanghai").unwrap();
        let d = z.day(NOW);
        assert_eq!(d.id, "2026-12-06");
        assert_eq!(
            d.start_ms,
            BudgetZone::default().day(NOW).start_ms - 8 * 3_600_000
        );
        // 20:00 UTC is already tomorrow in Shanghai.
        let late = BudgetZone::default().day(NOW).start_ms + 20 * 3_600_000;
        assert_eq!(z.day(late).id, "2026-12-07");
    }

    #[test]
    fn a_daylight_saving_day_is_23_hours_long() {
        let z = BudgetZone::parse("Europe/Berlin").unwrap();
        // 2026-03-29 is the spring change in the EU.
        let noon = Timestamp::from_second(1_774_785_600)
            .unwrap()
            .as_millisecond();
        let d = z.day(noon);
        assert_eq!(d.id, "2026-03-29");
        assert_eq!(d.end_ms - d.start_ms, 23 * 3_600_000);
        let days = z.last_days(noon, 3);
        assert_eq!(
            days.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
            ["2026-03-27", "2026-03-28", "2026-03-29"]
        );
    }

    #[test]
    fn the_current_periods_follow_the_clock() {
        let p = CurrentPeriods::new(BudgetZone::default());
        let now = p.at(NOW);
        assert_eq!(
            (now.0.id.as_str(), now.1.id.as_str()),
            ("2026-12-06", "2026-12")
        );
        assert!(
            std::sync::Arc::ptr_eq(&now, &p.at(NOW + 1_000)),
            "kept within the day"
        );
        let next = p.at(now.0.end_ms);
        assert_eq!(next.0.id, "2026-12-07");
    }

    #[test]
    fn unknown_zones_are_refused() {
        assert!(BudgetZone::parse("Mars/Olympus").is_err());
        assert!(BudgetZone::parse("utc").is_ok());
    }
}
